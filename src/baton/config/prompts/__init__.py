"""Prompt templates (files beside this module), rendered with string.Template."""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import Any

from ...core.records import Assignment, Candidate
from ...core.text import clip

OUTPUT_LIMIT = 12_000  # of an attempt's output shown to a reviewer or judge
EVIDENCE_LIMIT = 500  # of each failed check's evidence shown to them
DIFF_LIMIT = 12_000  # of a code change's diff shown to them


def load_template(name: str) -> str:
    """The text of a template shipped with baton (e.g. 'task.txt', 'review.txt')."""
    return resources.files("baton.config.prompts").joinpath(name).read_text(encoding="utf-8")


def _indent_rest(text: str) -> str:
    # continuation lines indented, so a multi-line message stays inside its list entry
    return text.strip().replace("\n", "\n  ")


def _feedback(feedback: tuple[dict[str, Any], ...]) -> str:
    if not feedback:
        return "none: this is the first attempt"
    lines = []
    for f in feedback:
        source = f.get("source", "?")
        if f.get("decision"):
            source += f" ({f['decision']})"
        lines.append(f"- {source}: {_indent_rest(str(f.get('message') or '(no details)'))}")
    return "\n".join(lines)


def _retry(feedback: tuple[dict[str, Any], ...]) -> str:
    if not feedback:
        return ""
    return "Problems found in your previous answer (fix them):\n" + _feedback(feedback) + "\n"


def _acceptance(acceptance: tuple[dict[str, Any], ...]) -> str:
    if not acceptance:
        return "no automatic checks"
    lines = []
    for a in acceptance:
        detail = {k: v for k, v in a.items() if k not in ("name", "kind", "description") and v}
        text = f"- {a.get('name')} ({a.get('kind')})"
        if a.get("description"):
            text += f": {a['description']}"
        if detail:
            text += " " + json.dumps(detail, ensure_ascii=False, default=str)
        lines.append(text)
    return "\n".join(lines)


def render_task(assignment: Assignment, template: str | None = None) -> str:
    """The prompt an agent gets for a task: $objective, $inputs, $acceptance, $feedback,
    $retry (the feedback under a heading, empty on a first attempt), $attempt, $item_id."""
    return Template(template or load_template("task.txt")).safe_substitute(
        objective=assignment.objective,
        inputs=json.dumps(assignment.inputs, indent=2, ensure_ascii=False, default=str)
        if assignment.inputs
        else "none",
        acceptance=_acceptance(assignment.acceptance),
        feedback=_feedback(assignment.feedback),
        retry=_retry(assignment.feedback),
        attempt=assignment.attempt,
        item_id=assignment.item_id,
    )


def render_attempt(template: str, candidate: Candidate, **extra: str) -> str:
    """A prompt about one attempt, for reviewers and judges ($objective, $inputs, $output,
    $change (code work: the files and the diff; empty otherwise), $checks, and the extra
    fields such as $rubric)."""
    output = (
        json.dumps(candidate.data, indent=2, ensure_ascii=False, default=str)
        if candidate.data is not None
        else candidate.text
    )
    return Template(template).safe_substitute(
        objective=candidate.objective,
        inputs=json.dumps(candidate.inputs, indent=2, ensure_ascii=False, default=str),
        output=clip(output, OUTPUT_LIMIT) or "(empty)",
        change=_change(candidate.change),
        checks=_checks(candidate.checks),
        **extra,
    )


def _change(change: dict[str, Any] | None) -> str:
    """The code change under review: its files with line counts, then the diff."""
    if not change:
        return ""
    files = "\n".join(
        f"- {f['path']} (+{f['added']} -{f['removed']})" for f in change.get("files", [])
    )
    diff = clip(change.get("diff", ""), DIFF_LIMIT)
    return (
        f"\nThe change it made to the repository (against {change.get('base', '?')[:12]}):\n"
        f"{files or '(no files changed)'}\n\n```diff\n{diff}\n```\n"
    )


def _checks(checks: tuple[dict[str, Any], ...]) -> str:
    if not checks:
        return "none yet"
    lines = []
    for c in checks:
        if c.get("passed"):
            lines.append(f"- {c.get('verifier')}: passed")
        else:
            evidence = clip(str(c.get("evidence") or ""), EVIDENCE_LIMIT).strip()
            detail = ": " + evidence.replace("\n", "\n  ") if evidence else ""
            lines.append(f"- {c.get('verifier')}: FAILED{detail}")
    return "\n".join(lines)
