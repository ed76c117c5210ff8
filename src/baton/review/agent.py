"""An agent as the reviewer: it gets the attempt and a rubric, and its free-text answer is
parsed into a decision (an answer with no clear decision is a ReviewError, not a crash)."""

from __future__ import annotations

import json
import re
from string import Template
from typing import Any, Literal

from .._util import clip
from ..agents.base import Agent
from ..errors import AgentError, ReviewError
from ..plugins import BuildContext, ReviewerConfig
from ..prompts import load_template
from ..records import AgentResult, AttemptView, AwaitHuman, ReviewResult, Task
from ..types import Decision

DEFAULT_RUBRIC = (
    "Approve when the output does what the objective asks, completely and correctly. "
    "Request changes when it is close but something specific must be fixed (say what). "
    "Reject when it is wrong in approach or cannot be fixed by small changes."
)

_WORDS = [
    (Decision.REQUEST_CHANGES, r"request[_ ]changes|changes[_ ]requested|needs?[_ ]changes|revise"),
    (Decision.REJECT, r"\breject(ed)?\b"),
    (Decision.APPROVE, r"\bapprov(e|ed)\b|\baccept(ed)?\b|\blgtm\b"),
]
_ALIASES = {
    "approve": Decision.APPROVE,
    "approved": Decision.APPROVE,
    "accept": Decision.APPROVE,
    "lgtm": Decision.APPROVE,
    "request_changes": Decision.REQUEST_CHANGES,
    "request changes": Decision.REQUEST_CHANGES,
    "changes_requested": Decision.REQUEST_CHANGES,
    "revise": Decision.REQUEST_CHANGES,
    "reject": Decision.REJECT,
    "rejected": Decision.REJECT,
}


class AgentReviewerConfig(ReviewerConfig):
    kind: Literal["agent"] = "agent"
    agent: str
    rubric: str = DEFAULT_RUBRIC
    prompt_template: str | None = None

    def build(self, name: str, ctx: BuildContext) -> AgentReviewer:
        if self.agent not in ctx.agents:
            known = ", ".join(ctx.agents) or "none"
            raise ValueError(f"unknown agent {self.agent!r} (known: {known})")
        template = (
            ctx.path(self.prompt_template).read_text()
            if self.prompt_template
            else load_template("review.txt")
        )
        return AgentReviewer(name, ctx.agents[self.agent], self.rubric, template)


class AgentReviewer:
    kind = "agent"

    def __init__(self, name: str, agent: Agent, rubric: str, template: str) -> None:
        self.name = name
        self.agent = agent
        self.rubric = rubric
        self.template = template

    async def review(self, attempt: AttemptView) -> ReviewResult | AwaitHuman:
        checks = (
            "\n".join(
                f"- {c['verifier']}: {'passed' if c['passed'] else 'FAILED'}"
                for c in attempt.checks
            )
            or "none yet"
        )
        output = json.dumps(attempt.data, indent=2) if attempt.data is not None else attempt.text
        prompt = Template(self.template).safe_substitute(
            objective=attempt.objective,
            inputs=json.dumps(attempt.inputs, indent=2, ensure_ascii=False),
            output=clip(output, 12_000),
            checks=checks,
            rubric=self.rubric,
        )
        task = Task(
            item_id=attempt.item_id, attempt=attempt.attempt, objective=prompt, risk=attempt.risk
        )
        try:
            result = await self.agent.run(task)
        except AgentError as exc:
            raise ReviewError(f"reviewing agent {self.agent.name} failed: {exc}") from exc
        if isinstance(result, AwaitHuman):
            return result
        assert isinstance(result, AgentResult)
        parsed = parse_review(result.text if result.data is None else json.dumps(result.data))
        return ReviewResult(parsed.decision, parsed.comments, result.usage)


def parse_review(text: str) -> ReviewResult:
    """A decision from a reviewer's free text: JSON, a 'DECISION:' line, or clear words."""
    for candidate in _json_objects(text):
        decision = _alias(
            candidate.get("decision") or candidate.get("verdict") or candidate.get("status")
        )
        if decision is not None:
            comments = (
                candidate.get("comments")
                or candidate.get("comment")
                or candidate.get("feedback")
                or candidate.get("reason")
                or ""
            )
            return ReviewResult(decision, str(comments))
    line = re.search(
        r"^\s*\**\s*(decision|verdict)\s*\**\s*[:=]\s*\**\s*([a-z_ ]+)",
        text,
        re.IGNORECASE | re.MULTILINE,
    )
    if line:
        decision = _alias(line.group(2).strip())
        if decision is not None:
            return ReviewResult(decision, text.strip())
    found = {d for d, pattern in _WORDS if re.search(pattern, text, re.IGNORECASE)}
    if len(found) == 1:
        return ReviewResult(found.pop(), text.strip())
    what = "conflicting decisions" if found else "no decision"
    raise ReviewError(
        f"could not find a decision in the reviewer's answer ({what}): {clip(text.strip(), 300)!r}"
    )


def _alias(value: Any) -> Decision | None:
    if not isinstance(value, str):
        return None
    return _ALIASES.get(value.strip().lower().replace("-", "_")) or _ALIASES.get(
        value.strip().lower()
    )


def _json_objects(text: str) -> list[dict[str, Any]]:
    found = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found
