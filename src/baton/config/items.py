"""Work items: their spec, loading many from JSONL / YAML / JSON files, and their ids.

An item without an `id` gets one derived from its content and playbook, so submitting the
same file again (after a crash, say) resumes those items instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core.vocabulary import RESERVED_LOGS, Risk
from ..errors import InputError, ItemsError, NotFound, Problem
from ..system.worktrees import BaseProblem, resolve_base
from .playbook import Playbook
from .source import Located, dotted, parse_yaml, validate


class BudgetOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    attempts: int | None = Field(None, ge=1)
    wall_seconds: float | None = Field(None, gt=0)
    tokens: int | None = Field(None, ge=1)
    cost: float | None = Field(None, gt=0)


class ItemWorkspace(BaseModel):
    """An item's own repository or base, for a playbook that does code work."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    repo: str | None = Field(None, description="a git repository (relative to the items file)")
    base: str | None = Field(None, min_length=1, description="the ref to start from")


class ItemSpec(BaseModel):
    """One scoped unit of work."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    objective: str = Field(min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = Risk.LOW
    tags: list[str] = Field(default_factory=list)
    budget: BudgetOverride | None = None
    acceptance: list[str] | None = Field(None, description="verifier names that must pass")
    cascade: list[str] | None = Field(None, description="agent names, in order, for this item")
    workspace: ItemWorkspace | None = None

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        if value in RESERVED_LOGS:
            raise ValueError(f"{value!r} is reserved for baton's own log: choose another id")
        return value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def check_against(
    spec: ItemSpec, book: Playbook, src: Located, path: tuple[Any, ...]
) -> list[Problem]:
    """Problems with an item's references to its playbook's verifiers and agents."""
    problems = []
    for i, name in enumerate(spec.acceptance or []):
        if name not in book.verifiers:
            known = ", ".join(book.verifiers) or "none"
            problems.append(
                src.problem((*path, "acceptance", i), f"unknown verifier {name!r} (known: {known})")
            )
    for i, name in enumerate(spec.cascade or []):
        if name not in book.agents:
            known = ", ".join(book.agents)
            problems.append(
                src.problem((*path, "cascade", i), f"unknown agent {name!r} (known: {known})")
            )
    return problems


def load_items(path: str | Path, book: Playbook) -> list[ItemSpec]:
    """Every item in a file, validated against the playbook; all problems reported at once."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such items file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ItemsError(Problem(str(path), None, "", f"cannot read: {exc}")) from None
    return parse_items(text, str(path), book, jsonl=path.suffix.lower() == ".jsonl")


def parse_items(text: str, file: str, book: Playbook, *, jsonl: bool = False) -> list[ItemSpec]:
    located = _jsonl(text, file) if jsonl else _document(text, file)
    if not located:
        raise ItemsError(Problem(file, None, "", "no work items found"))
    specs: list[ItemSpec] = []
    problems: list[Problem] = []
    first: dict[str, int | None] = {}  # an id given twice is named with both lines
    for src, path in located:
        raw = src.value
        for key in path:
            raw = raw[key]
        if isinstance(raw, str):
            raw = {"objective": raw}
        spec, found = validate(ItemSpec, src, raw, path)
        problems.extend(found)
        if spec is not None and spec.id is not None:
            line = src.line((*path, "id"))
            if spec.id in first:
                where = f"line {first[spec.id]}" if first[spec.id] else "another item"
                message = f"duplicate item id {spec.id!r}: {where} of {file} has it too"
                problems.append(Problem(file, line, dotted((*path, "id")), message))
            first.setdefault(spec.id, line)
        if spec is not None:
            problems.extend(check_against(spec, book, src, path))
            if spec.workspace is not None:
                spec = _resolved_workspace(spec, book, src, path, problems)
            specs.append(spec)
    if problems:
        raise ItemsError(problems)
    return with_ids(specs, book.name)


def _resolved_workspace(
    spec: ItemSpec, book: Playbook, src: Located, path: tuple[Any, ...], problems: list[Problem]
) -> ItemSpec:
    """The item's repository made absolute (relative to its file) and checked with its base."""
    assert spec.workspace is not None
    ws = book.workspace
    if ws is None or not ws.repo:
        message = f"playbook {book.name} does no code work (it has no workspace.repo)"
        problems.append(src.problem((*path, "workspace"), message))
        return spec
    folder = Path(src.file).parent if Path(src.file).is_file() else Path.cwd()
    repo = (folder / spec.workspace.repo).resolve() if spec.workspace.repo else Path(ws.repo)
    base = spec.workspace.base or ws.base
    try:
        resolve_base(repo, base)
    except BaseProblem as exc:
        problems.append(src.problem((*path, "workspace", exc.field), str(exc)))
        return spec
    return spec.model_copy(update={"workspace": ItemWorkspace(repo=str(repo), base=base)})


def _jsonl(text: str, file: str) -> list[tuple[Located, tuple[Any, ...]]]:
    out = []
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(file, number, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        except RecursionError:
            problems.append(Problem(file, number, "", "invalid JSON: nested too deeply"))
            continue
        except ValueError as exc:  # an integer of more digits than Python turns into an int
            problems.append(Problem(file, number, "", f"invalid JSON: {exc}"))
            continue
        out.append((Located(file, value, {(): number}), ()))
    if problems:
        raise ItemsError(problems)
    return out


def _document(text: str, file: str) -> list[tuple[Located, tuple[Any, ...]]]:
    try:
        src = parse_yaml(text, file)  # YAML is a superset of JSON: one parser, with lines
    except InputError as exc:
        raise ItemsError(exc.problems) from None
    value = src.value
    if isinstance(value, dict) and "items" in value:
        return [(src, ("items", i)) for i in range(len(value["items"] or []))]
    if isinstance(value, list):
        return [(src, (i,)) for i in range(len(value))]
    if isinstance(value, dict):
        return [(src, ())]
    raise ItemsError(src.problem((), "expected a list of items, or a mapping with 'items'"))


def with_ids(specs: list[ItemSpec], playbook: str) -> list[ItemSpec]:
    """Give every item without an id one derived from its content (repeats numbered)."""
    seen: dict[str, int] = {}
    out = []
    for spec in specs:
        if spec.id is None:
            base = f"{playbook}-{content_key(spec, playbook)}"
            seen[base] = seen.get(base, 0) + 1
            item_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
            spec = spec.model_copy(update={"id": item_id})
        out.append(spec)
    counts = Counter(s.id for s in out)
    duplicates = sorted(str(i) for i, n in counts.items() if n > 1)
    if duplicates:
        raise ItemsError(Problem("", None, "id", f"duplicate item ids: {', '.join(duplicates)}"))
    return out


def content_key(spec: ItemSpec, playbook: str) -> str:
    body = orjson.dumps([playbook, spec.to_dict()], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:12]
