"""Unified diffs in a model's answer: found, made to end well, their hunk headers recounted,
their strip level told, and what `git apply --numstat` says of them. Text only."""

from __future__ import annotations

import re
from itertools import pairwise

_DIFF_FENCE = re.compile(r"^```[ \t]*[\w+-]*[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_DIFF_START = re.compile(r"^(?:diff --git |--- |@@ )", re.MULTILINE)


def extract_diff(text: str) -> str:
    """The unified diff in an answer: its ```diff block, or the text from its first header."""
    for match in _DIFF_FENCE.finditer(text):
        if _DIFF_START.search(match.group(1)):
            return _ended(match.group(1))
    start = _DIFF_START.search(text)
    if start is None or "@@" not in text[start.start() :]:
        raise ValueError("no unified diff in it (--- a/FILE, +++ b/FILE, then @@ hunks)")
    body = text[start.start() :]
    body = re.sub(r"\n```[ \t]*\n?\Z", "\n", body.rstrip() + "\n")  # an unclosed fence's end
    return _ended(body)


def strip_level(diff: str) -> int:
    """git apply's -p: 1 for a/ b/ prefixed paths (git's own diffs), 0 for bare paths."""
    if re.search(r"^diff --git ", diff, re.MULTILINE):
        return 1
    paths: list[str] = []
    for first, second in pairwise(diff.splitlines()):
        if first.startswith("--- ") and second.startswith("+++ "):
            paths += [line[4:].split("\t")[0].strip() for line in (first, second)]
    paths = [p for p in paths if p and p != "/dev/null"]
    if paths and not any(p.startswith(("a/", "b/")) for p in paths):
        return 0
    return 1


def _ended(diff: str) -> str:
    """The diff ending with exactly one newline (git apply needs it; a model may add more)."""
    return diff.rstrip("\n") + "\n"


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$")


def recount(diff: str) -> str:
    """The diff with each hunk header's line counts taken from its lines. A hunk ends where
    a line is none of context, removal, addition or "\\ No newline", or where the next
    file's `--- `/`+++ ` header pair starts (git's own --recount misses that one)."""
    lines = diff.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _HUNK.match(lines[i].rstrip("\n"))
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        old = new = 0
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.startswith("--- ") and lines[j + 1 : j + 2] and lines[j + 1].startswith("+++ "):
                break
            if line[:1] == " " or line == "\n":  # "\n": an empty context line, its space lost
                old, new = old + 1, new + 1
            elif line[:1] == "-":
                old += 1
            elif line[:1] == "+":
                new += 1
            elif line[:1] != "\\":
                break
            j += 1
        start_old, start_new, rest = match.groups()
        out.append(f"@@ -{start_old},{old} +{start_new},{new} @@{rest}\n")
        out.extend(lines[i + 1 : j])
        i = j
    return "".join(out)


def numstat(raw: str) -> list[tuple[str, int, int]]:
    """(path, added, removed) from `git apply --numstat -z` (a rename: its new path)."""
    items = raw.split("\0")
    out = []
    i = 0
    while i < len(items):
        record = items[i]
        i += 1
        if not record.strip():
            continue
        added, removed, path = record.split("\t", 2)
        if not path and i + 1 < len(items):  # a rename or copy: the old path, the new one
            path = items[i + 1]
            i += 2
        out.append(
            (path, int(added) if added.isdigit() else 0, int(removed) if removed.isdigit() else 0)
        )
    return out
