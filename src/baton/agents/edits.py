"""Model agents that edit files: the step a chat agent (`llama`, `openai`) takes instead of
answering with text when its playbook block has `edits:`.

The attempt's working folder (a git worktree with `workspace.repo`, a copy with
`workspace.copy`) is where the model works. Baton reads the files the playbook names into
the prompt; the model answers with the new contents of the files it changes (`mode: files`,
JSON, grammar-constrained with `structured: true`) or with a unified diff (`mode: diff`,
applied with `git apply`, checked first). Every path stays inside the working folder. What
changed is recorded by baton afterwards, as for any agent that edits a worktree; an answer
that cannot be applied fails the attempt with the reason, which the next attempt gets as
feedback.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path, PurePosixPath
from string import Template
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.records import AgentResult, Assignment, Usage
from ..core.text import extract_json
from ..errors import AgentError
from ..git import GitError, git
from ..prompts import load_template

if TYPE_CHECKING:
    from .chat import ChatAgent, Completion, Message

# what a model in `files` mode answers; with `structured: true` it is held to it
FILES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "content": {"type": "string"},
                },
                "required": ["path", "content"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["files"],
    "additionalProperties": False,
}
FILES_SHAPE = '{"files": [{"path": "...", "content": "..."}]}'
EXCERPT = 200  # characters of an answer quoted in an error
REASON_LIMIT = 1_000  # characters of git's reason quoted in an error
_DRIVE = re.compile(r"^[A-Za-z]:")
_DIFF_FENCE = re.compile(r"^```[ \t]*[\w+-]*[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_DIFF_START = re.compile(r"^(?:diff --git |--- |@@ )", re.MULTILINE)


class EditsConfig(BaseModel):
    """`edits:` of a chat agent: it changes files in the attempt's working folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["files", "diff"] = Field(
        "files",
        description="files: the model answers with the whole new content of each file it "
        "changes (JSON); diff: with a unified diff, applied with git apply",
    )
    context: list[str] = Field(
        default_factory=list,
        description="globs relative to the working folder: these files' contents go into "
        "the prompt (in the order of the globs, each glob's matches sorted)",
    )
    max_context_bytes: int = Field(
        20_000, ge=0, description="at most this many bytes of files in the prompt"
    )

    @field_validator("context")
    @classmethod
    def _relative_globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            problem = path_problem(pattern)
            if problem is None and any(
                "**" in part and part != "**" for part in PurePosixPath(pattern).parts
            ):
                problem = "'**' must be a whole path component, as in src/**/*.py"
            if problem is not None:
                raise ValueError(f"context glob {pattern!r}: {problem}")
        return value


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


# --- what the model is shown ------------------------------------------------------------
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


# --- the editing step -------------------------------------------------------------------
class FileEditor:
    """Runs one attempt of a chat agent that edits files: shows the model the context files,
    asks it, and writes its files or applies its diff in the task's working folder."""

    def __init__(self, agent: ChatAgent, config: EditsConfig) -> None:
        self.agent = agent
        self.config = config
        self.template = load_template(f"edit_{config.mode}.txt")

    @property
    def schema(self) -> dict[str, Any] | None:
        """What the answer is held to: the files shape (structured, files mode), else nothing.
        It replaces the item's acceptance schema, which is about the result, not the edit."""
        structured = self.agent.config.structured
        return FILES_SCHEMA if structured and self.config.mode == "files" else None

    def messages(self, assignment: Assignment, context: Context) -> list[Message]:
        """The chat agent's messages, the user's ending with the files and how to answer."""
        example = context.files[0][0] if context.files else "path/to/file"
        section = Template(self.template).safe_substitute(
            context=render_context(context), example=example
        )
        messages = [dict(m) for m in self.agent.messages(assignment)]
        messages[-1]["content"] = messages[-1]["content"].rstrip("\n") + "\n\n" + section
        return messages

    async def run(self, assignment: Assignment) -> AgentResult:
        name = self.agent.name
        if assignment.workdir is None:
            raise AgentError(
                f"agent {name} edits files (edits:), so its task needs a working folder: "
                "give the playbook workspace.repo (a git repository) or workspace.copy; "
                "a judge or reviewer must name an agent without edits"
            )
        if not assignment.workdir.is_dir():
            raise AgentError(
                f"agent {name}: the working folder {assignment.workdir} does not exist"
            )
        root = assignment.workdir.resolve()
        c = self.config
        context = await asyncio.to_thread(read_context, root, c.context, c.max_context_bytes)
        done, usage = await self.agent.ask(
            self.messages(assignment, context), self.schema, assignment.attempt
        )
        if c.mode == "files":
            edited = await asyncio.to_thread(self._write, root, done, usage)
        else:
            edited = await self._apply(root, done, usage)
        text = edited.summary
        if context.notes:
            text += "\nnot shown to the model: " + "; ".join(context.notes)
        return AgentResult(text=text, usage=usage, files=edited.paths)

    # --- mode: files --------------------------------------------------------------------
    def _write(self, root: Path, done: Completion, usage: Usage) -> Edited:
        try:
            wanted = parse_files(done.text)
        except ValueError as exc:
            raise AgentError(
                f"the model's answer is not the files to write: {exc}; expected "
                f"{FILES_SHAPE}{self._cut(done)}{_began(done.text)}",
                usage=usage,
            ) from None
        targets: list[tuple[str, Path, str]] = []
        for raw, content in wanted:
            try:
                rel, file = inside(root, raw)
            except ValueError as exc:
                raise AgentError(f"the model may not write {raw!r}: {exc}", usage=usage) from None
            if any(rel == t[0] for t in targets):
                raise AgentError(f"the model's answer writes {rel} twice", usage=usage)
            targets.append((rel, file, content))
        paths: list[str] = []
        written: list[str] = []
        unchanged: list[str] = []
        for rel, file, content in targets:  # every path checked before anything is written
            data = content.encode("utf-8")
            try:
                before = file.read_bytes() if file.exists() else None
                if before == data:
                    unchanged.append(rel)
                    continue
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(data)
            except OSError as exc:
                raise AgentError(
                    f"cannot write the model's {rel}: {exc.strerror or exc}", usage=usage
                ) from None
            new = "new, " if before is None else ""
            paths.append(rel)
            written.append(f"{rel} ({new}{_lines(content)})")
        parts = []
        if written:
            parts.append("wrote " + ", ".join(written))
        if unchanged:
            parts.append("left unchanged " + ", ".join(unchanged))
        summary = "; ".join(parts) or "the model's answer names no file"
        return Edited(summary, tuple(paths))

    # --- mode: diff ---------------------------------------------------------------------
    async def _apply(self, root: Path, done: Completion, usage: Usage) -> Edited:
        try:
            diff = extract_diff(done.text)
        except ValueError as exc:
            raise AgentError(
                f"the model's answer is not a diff: {exc}{self._cut(done)}{_began(done.text)}",
                usage=usage,
            ) from None
        diff = await self._check(root, diff, done, usage)
        try:
            stat = await git(
                "apply",
                f"-p{strip_level(diff)}",
                "--numstat",
                "-z",
                "--apply",
                "-",
                cwd=root,
                stdin=diff,
            )
        except GitError as exc:  # checked just before: only a changed folder gets here
            raise AgentError(
                f"the model's diff does not apply: {_git_reason(exc, root)}", usage=usage
            ) from None
        files = _numstat(stat)
        summary = "applied the model's diff: " + ", ".join(
            f"{path} (+{added} -{removed})" for path, added, removed in files
        )
        return Edited(summary, tuple(path for path, _, _ in files))

    async def _check(self, root: Path, diff: str, done: Completion, usage: Usage) -> str:
        """The diff as it applies (checked; nothing changed yet), or an AgentError with
        git's reason. A model often gets a hunk header's line counts wrong, so a diff that
        does not apply as written is tried again with its hunks recounted."""
        strip = f"-p{strip_level(diff)}"
        try:
            await git("apply", "--check", strip, "-", cwd=root, stdin=diff)
            return diff
        except GitError as exc:
            reason = _git_reason(exc, root)
        fixed = recount(diff)
        if fixed != diff:
            try:
                await git("apply", "--check", strip, "-", cwd=root, stdin=fixed)
                return fixed
            except GitError:
                pass
        raise AgentError(f"the model's diff does not apply: {reason}{self._cut(done)}", usage=usage)

    def _cut(self, done: Completion) -> str:
        if done.finish_reason != "length":
            return ""
        return (
            f" (the answer was cut off at max_tokens {self.agent.config.max_tokens}: "
            "raise max_tokens, or ask for a smaller change)"
        )


@dataclass(frozen=True, slots=True)
class Edited:
    summary: str
    paths: tuple[str, ...]


def parse_files(text: str) -> list[tuple[str, str]]:
    """(path, content) of each file in a `files` answer; ValueError saying what is wrong."""
    try:
        data = extract_json(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError('the wrong shape: no "files" list')
    out = []
    for n, entry in enumerate(data["files"], 1):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("content"), str)
        ):
            raise ValueError(f'the wrong shape: file {n} needs a "path" and a "content" (strings)')
        out.append((entry["path"], entry["content"]))
    return out


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


def _numstat(raw: str) -> list[tuple[str, int, int]]:
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


def _git_reason(exc: GitError, cwd: Path) -> str:
    """git's own words from a GitError, without the command and folder."""
    text = str(exc)
    marker = f" failed in {cwd}: "
    reason = text.split(marker, 1)[1] if marker in text else text
    lines = [line.strip().removeprefix("error: ") for line in reason.splitlines() if line.strip()]
    joined = "; ".join(lines) or "(git gave no reason)"
    return joined if len(joined) <= REASON_LIMIT else joined[:REASON_LIMIT] + " ..."


def _lines(content: str) -> str:
    n = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    return f"{n} line" if n == 1 else f"{n} lines"


def _began(text: str) -> str:
    text = text.strip()
    excerpt = text if len(text) <= EXCERPT else text[:EXCERPT] + " ..."
    return f"; it began: {excerpt!r}"
