"""Prompt templates (files beside this module), rendered with string.Template."""

from __future__ import annotations

import json
from importlib import resources
from string import Template
from typing import Any

from ..records import Task


def load_template(name: str) -> str:
    return resources.files("baton.prompts").joinpath(name).read_text(encoding="utf-8")


def _feedback(feedback: tuple[dict[str, Any], ...]) -> str:
    if not feedback:
        return "none: this is the first attempt"
    return "\n".join(f"- {f.get('source', '?')}: {f.get('message', '')}" for f in feedback)


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
            text += " " + json.dumps(detail, ensure_ascii=False)
        lines.append(text)
    return "\n".join(lines)


def render_task(task: Task, template: str | None = None) -> str:
    """The prompt an agent gets for a task."""
    return Template(template or load_template("task.txt")).safe_substitute(
        objective=task.objective,
        inputs=json.dumps(task.inputs, indent=2, ensure_ascii=False) if task.inputs else "none",
        acceptance=_acceptance(task.acceptance),
        feedback=_feedback(task.feedback),
        attempt=task.attempt,
    )
