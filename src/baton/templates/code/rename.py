"""A codemod agent: renames an identifier in every Python file of its working directory.

Reads the task from BATON_TASK_FILE (inputs: old, new), rewrites NAME tokens only (so
strings and comments are left alone), and prints what it changed.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tokenize
from pathlib import Path


def rename(source: str, old: str, new: str) -> tuple[str, int]:
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    hits = 0
    out = []
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == old:
            tok = tok._replace(string=new)
            hits += 1
        out.append(tok)
    return tokenize.untokenize(out), hits


def main() -> int:
    task = json.loads(Path(os.environ["BATON_TASK_FILE"]).read_text())
    old, new = task["inputs"]["old"], task["inputs"]["new"]
    total = 0
    for path in sorted(Path.cwd().rglob("*.py")):
        text, hits = rename(path.read_text(), old, new)
        if hits:
            path.write_text(text)
            print(f"{path.name}: renamed {hits} use(s) of {old} to {new}")
            total += hits
    if not total:
        print(f"no use of {old} found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
