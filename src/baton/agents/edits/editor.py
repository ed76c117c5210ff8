"""The editing step: the model is shown the context files and asked; its files are written
(`mode: files`) or its diff applied with git, checked first (`mode: diff`), in the
attempt's working folder. An answer that cannot be applied is an AgentError saying why."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, Protocol

from ...config.prompts import load_template
from ...core.records import AgentResult, Assignment, Usage
from ...core.text import extract_json
from ...errors import AgentError
from ...system.git import GitError, git
from ..completions import Completion, Message
from .config import FILES_SCHEMA, FILES_SHAPE, EditsConfig
from .context import Context, read_context, render_context
from .diffs import extract_diff, numstat, recount, strip_level
from .paths import inside

EXCERPT = 200  # characters of an answer quoted in an error
REASON_LIMIT = 1_000  # characters of git's reason quoted in an error


class Asking(Protocol):
    """The chat agent an editor asks (ChatAgent): its messages for an assignment, and one
    completion with what it cost."""

    name: str

    def messages(self, assignment: Assignment) -> list[Message]: ...

    async def ask(
        self, messages: list[Message], schema: dict[str, Any] | None, attempt: int = 1
    ) -> tuple[Completion, Usage]: ...


class FileEditor:
    """Runs one attempt of a chat agent that edits files: shows the model the context files,
    asks it, and writes its files or applies its diff in the task's working folder."""

    def __init__(
        self, agent: Asking, config: EditsConfig, *, structured: bool, max_tokens: int
    ) -> None:
        self.agent = agent
        self.config = config
        self.structured = structured  # files mode: the answer is held to FILES_SCHEMA
        self.max_tokens = max_tokens
        self.template = load_template(f"edit_{config.mode}.txt")

    @property
    def schema(self) -> dict[str, Any] | None:
        """What the answer is held to: the files shape (structured, files mode), else nothing.
        It replaces the item's acceptance schema, which is about the result, not the edit."""
        return FILES_SCHEMA if self.structured and self.config.mode == "files" else None

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
        files = numstat(stat)
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
            f" (the answer was cut off at max_tokens {self.max_tokens}: "
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
