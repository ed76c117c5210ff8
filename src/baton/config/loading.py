"""Loading a playbook from YAML: the document validated, every plugin section validated as
its kind (a discriminated union over the installed kinds) and built, the cross-references
checked; every problem names the file, line and field, all are reported at once, and
nothing runs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, NotFound, PlaybookError, Problem
from ..system.worktrees import BaseProblem, resolve_base
from . import registry
from .playbook import AgentSlot, Playbook, ReviewerSlot, VerifierSlot
from .plugin import (
    MIN_SECRET_LENGTH,
    AgentConfig,
    BuildContext,
    PluginConfig,
    ReviewerConfig,
    VerifierConfig,
    secret_too_short,
)
from .sections import PlaybookModel
from .source import Located, message_of, parse_yaml, validate


def load_playbook(path: str | Path, *, state_dir: Path | None = None) -> Playbook:
    """Load, validate and build a YAML playbook; every problem found is reported at once."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path}: no such playbook file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(Problem(str(path), None, "", f"cannot read: {exc}")) from None
    try:
        src = parse_yaml(text, str(path))
    except InputError as exc:
        raise PlaybookError(exc.problems) from None
    base_dir = path.resolve().parent
    book = from_document(src, base_dir, state_dir or Path(".baton"))
    book.path = path.resolve()
    book.digest = hashlib.sha256(text.encode()).hexdigest()
    return book


def from_document(src: Located, base_dir: Path, state_dir: Path) -> Playbook:
    """Build a playbook from a parsed document, collecting every problem before raising."""
    if not isinstance(src.value, dict):
        raise PlaybookError(src.problem((), "a playbook is a mapping with name, agents, ..."))
    model, problems = validate(PlaybookModel, src, src.value)
    if model is None:
        # still report every plugin section's problems, so one run shows them all
        sections: dict[str, type[PluginConfig]] = {
            "agents": AgentConfig,
            "reviewers": ReviewerConfig,
            "verifiers": VerifierConfig,
        }
        for section, base in sections.items():
            raw_section = src.value.get(section)
            if isinstance(raw_section, dict):
                for name, raw in raw_section.items():
                    _config(src, section, name, raw, base, problems)
        problems.sort(key=lambda p: p.line or 0)
        raise PlaybookError(problems)
    ctx = BuildContext(base_dir=base_dir, state_dir=state_dir)
    agents: dict[str, AgentSlot] = {}
    for name, raw in model.agents.items():
        config = _config(src, "agents", name, raw, AgentConfig, problems)
        agent = _build(src, ("agents", name), config, name, ctx, problems)
        for secret in config.secret_names() if config is not None else ():
            value = ctx.environ.get(secret, "")
            if value and len(value) < MIN_SECRET_LENGTH:
                message = secret_too_short(secret, len(value))
                problems.append(src.problem(("agents", name, "secrets"), message))
        if agent is not None:
            ctx.add_agent(name, agent, config)
            agents[name] = AgentSlot(
                agent, config.concurrency, tuple(config.secret_names()), config.kind
            )
    reviewers: dict[str, ReviewerSlot] = {}
    for name, raw in model.reviewers.items():
        config = _config(src, "reviewers", name, raw, ReviewerConfig, problems)
        reviewer = _build(src, ("reviewers", name), config, name, ctx, problems)
        if reviewer is not None:
            reviewers[name] = ReviewerSlot(
                reviewer, config.kind, config.when, config.needs_checks()
            )
    verifiers: dict[str, VerifierSlot] = {}
    for name, raw in model.verifiers.items():
        config = _config(src, "verifiers", name, raw, VerifierConfig, problems)
        verifier = _build(src, ("verifiers", name), config, name, ctx, problems)
        if verifier is not None:
            verifiers[name] = VerifierSlot(verifier, config.required, config.describe(ctx))
    cascade = model.cascade
    if cascade is None and model.fanout is not None and model.fanout.agents:
        cascade = list(model.fanout.agents)  # a best-of-N round names its agents
    if cascade is None:
        if len(model.agents) > 1:
            problems.append(src.problem(("agents",), "several agents: name their order in cascade"))
        cascade = list(model.agents)[:1]
    workspace = model.workspace
    if workspace and workspace.copy_from:
        folder = ctx.path(workspace.copy_from)
        if not folder.is_dir():
            problems.append(src.problem(("workspace", "copy"), f"no such folder: {folder}"))
    if workspace and workspace.repo:
        repo = ctx.path(workspace.repo).resolve()
        try:
            resolve_base(repo, workspace.base)
        except BaseProblem as exc:
            problems.append(src.problem(("workspace", exc.field), str(exc)))
        workspace = workspace.model_copy(update={"repo": str(repo)})
    book = Playbook(
        name=model.name,
        agents=agents,
        cascade=tuple(cascade),
        reviewers=reviewers,
        verifiers=verifiers,
        policy=model.policy,
        budget=model.budget,
        workspace=workspace,
        fanout=model.fanout,
        description=model.description,
    )
    found = book.check(src, declared=model.agents)
    if model.cascade is not None:
        problems.extend(found)
    else:
        problems.extend(p for p in found if not p.field.startswith("cascade"))
    if problems:
        raise PlaybookError(problems)
    return book


def _config(
    src: Located,
    section: str,
    name: str,
    raw: Any,
    base: type[PluginConfig],
    problems: list[Problem],
) -> Any:
    """The section's configuration, validated as the kind it names (None, with problems,
    when it cannot be)."""
    path = (section, name)
    if not isinstance(raw, dict):
        problems.append(src.problem(path, "expected a mapping with a kind"))
        return None
    group = registry.kinds(base.group)
    adapter = registry.union(base.group)
    kind = raw.get("kind")
    if adapter is None or len(group.found) == 1:  # no union to choose by kind: check it here
        wrong = _kind_problem(section, kind, group)
        if wrong is not None:
            problems.append(src.problem((*path, "kind"), wrong))
            return None
    assert adapter is not None
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        chosen = len(group.found) > 1  # a union's errors start with the kind that was chosen
        for err in exc.errors(include_url=False):
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                wrong = _kind_problem(section, kind, group) or str(err["msg"])
                problems.append(src.problem((*path, "kind"), wrong))
                continue
            loc = tuple(err["loc"][1:] if chosen else err["loc"])
            model = group.found.get(str(err["loc"][0])) if chosen else base
            problems.append(src.problem((*path, *loc), message_of(err, model, loc)))
        return None


def _kind_problem(section: str, kind: Any, group: registry.Kinds) -> str | None:
    """Why `kind` names no usable kind of the group (None when it does)."""
    expected = ", ".join(sorted(group.found)) or "none is installed"
    if kind is None:
        return f"required field is missing (one of: {expected})"
    what = section.rstrip("s")
    if isinstance(kind, str) and kind in group.broken:
        return f"{what} kind {group.broken[kind]}"
    if isinstance(kind, str) and kind in group.found:
        return None
    return f"unknown {what} kind {kind!r} (expected one of: {expected})"


def _build(
    src: Located,
    path: tuple[str, str],
    config: Any,
    name: str,
    ctx: BuildContext,
    problems: list[Problem],
) -> Any:
    if config is None:
        return None
    try:
        return config.build(name, ctx)
    except ValueError as exc:
        problems.append(src.problem(path, str(exc)))
        return None
