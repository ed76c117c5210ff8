"""Paths a model names: each must stay inside the attempt's working folder (no absolute
path, no '..', nothing in .git, no symbolic link out)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

_DRIVE = re.compile(r"^[A-Za-z]:")


def path_problem(raw: str) -> str | None:
    """Why a path (or glob) cannot name a file inside the working folder; None if it can."""
    if not raw.strip():
        return "an empty path"
    if "\0" in raw:
        return "a NUL character in the path"
    path = PurePosixPath(raw.strip().replace("\\", "/"))
    if path.is_absolute() or _DRIVE.match(raw.strip()):
        return "an absolute path (paths are relative to the working folder)"
    if ".." in path.parts:
        return "'..' leads out of the working folder"
    if any(part.lower() == ".git" for part in path.parts):
        return "a path inside .git (git's own files)"
    if not path.parts:
        return "the working folder itself, not a file"
    return None


def inside(root: Path, raw: str) -> tuple[str, Path]:
    """The path relative to `root` (resolved) and the file it names; ValueError saying why
    it does not name a file inside `root`."""
    problem = path_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    rel = PurePosixPath(raw.strip().replace("\\", "/")).as_posix()
    file = root / rel
    resolved = file.resolve()
    if not resolved.is_relative_to(root):
        raise ValueError("it leads out of the working folder through a symbolic link")
    if any(part.lower() == ".git" for part in resolved.relative_to(root).parts):
        raise ValueError("it leads into .git (git's own files) through a symbolic link")
    if resolved.is_dir():
        raise ValueError("it is a folder, not a file")
    return rel, file
