"""What the model is shown: the files the playbook's globs name, within a byte limit, and
why others were left out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Context:
    """The files shown to the model, and why others were not."""

    files: tuple[tuple[str, str], ...] = ()  # (path, content)
    notes: tuple[str, ...] = ()


def read_context(root: Path, patterns: list[str], limit: int) -> Context:
    """The files the globs match in `root`, in the order of the globs (each glob's matches
    sorted), while they fit in `limit` bytes; a file that is not UTF-8 text is left out."""
    seen: set[str] = set()
    files: list[tuple[str, str]] = []
    notes: list[str] = []
    size = 0
    for pattern in patterns:
        matches = sorted(
            p for p in root.glob(pattern) if p.is_file() and ".git" not in p.relative_to(root).parts
        )
        if not matches:
            notes.append(f"{pattern}: no file matches (yet)")
        for path in matches:
            rel = path.relative_to(root).as_posix()
            if rel in seen:
                continue
            seen.add(rel)
            if not path.resolve().is_relative_to(root):
                notes.append(f"{rel}: not shown (a link out of the working folder)")
                continue
            try:
                data = path.read_bytes()
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                notes.append(f"{rel}: not shown (not UTF-8 text)")
                continue
            except OSError as exc:
                notes.append(f"{rel}: not shown (cannot read it: {exc.strerror or exc})")
                continue
            if size + len(data) > limit:
                notes.append(
                    f"{rel}: not shown ({len(data):,} bytes would pass the limit of "
                    f"{limit:,} bytes of files, max_context_bytes)"
                )
                continue
            size += len(data)
            files.append((rel, text))
    return Context(tuple(files), tuple(notes))


def _fenced(text: str) -> str:
    """The text in a code fence longer than any run of backticks inside it."""
    runs = [len(r) for r in re.findall(r"`{3,}", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    body = text if not text or text.endswith("\n") else text + "\n"
    return f"{fence}\n{body}{fence}"


def render_context(context: Context) -> str:
    """The prompt's section of files: each file's path and content, then what was left out."""
    if context.files:
        parts = ["The project's files as they are now (paths relative to the project folder):"]
        parts += [f"File {path}:\n{_fenced(text)}" for path, text in context.files]
    else:
        parts = ["No file of the project folder is shown to you."]
    if context.notes:
        parts.append("Not shown:\n" + "\n".join(f"- {note}" for note in context.notes))
    return "\n\n".join(parts)
