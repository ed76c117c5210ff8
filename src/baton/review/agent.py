"""An agent as the reviewer: it gets the attempt and a rubric, and its free-text answer is
parsed into a decision (an answer with no clear decision is a ReviewError, not a crash)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field

from ..config.plugin import Agent, BuildContext, ReviewerConfig
from ..config.prompts import render_attempt
from ..core.records import AgentResult, Assignment, AwaitHuman, Candidate, ReviewResult
from ..core.text import clip, json_values
from ..core.vocabulary import Decision
from ..errors import ReviewError

DEFAULT_RUBRIC = (
    "Approve when the output does what the objective asks, completely and correctly. "
    "Request changes when it is close but something specific must be fixed (say what). "
    "Reject when it is wrong in approach or cannot be fixed by small changes."
)
SNIPPET_LIMIT = 300  # of an unparseable answer quoted in the error
COMMENTS_LIMIT = 4_000  # of a free-text answer kept as the comments

# every spelling of a decision, normalised to lower case with '_' for spaces and dashes
_ALIASES = {
    "approve": Decision.APPROVE,
    "approved": Decision.APPROVE,
    "accept": Decision.APPROVE,
    "accepted": Decision.APPROVE,
    "lgtm": Decision.APPROVE,
    "request_changes": Decision.REQUEST_CHANGES,
    "changes_requested": Decision.REQUEST_CHANGES,
    "needs_changes": Decision.REQUEST_CHANGES,
    "need_changes": Decision.REQUEST_CHANGES,
    "revise": Decision.REQUEST_CHANGES,
    "reject": Decision.REJECT,
    "rejected": Decision.REJECT,
}
_DECISION_KEYS = ("decision", "verdict", "status")
_COMMENT_KEYS = ("comments", "comment", "feedback", "reason")
_WORDS = [
    (
        Decision.REQUEST_CHANGES,
        re.compile(
            r"\brequest(?:ed|ing)?[_ -]changes\b|\bchanges[_ -]requested\b"
            r"|\bneeds?[_ -]changes\b|\brevise\b",
            re.IGNORECASE,
        ),
    ),
    (Decision.REJECT, re.compile(r"\breject(?:ed)?\b", re.IGNORECASE)),
    (Decision.APPROVE, re.compile(r"\bapproved?\b|\baccept(?:ed)?\b|\blgtm\b", re.IGNORECASE)),
]
# "I would not approve this" is no approval: a keyword right after a negation does not count
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|can't|won't|don't|doesn't|wouldn't|shouldn't|isn't)\b"
    r"(?:[ \t]+[\w']+){0,2}[ \t]*$",
    re.IGNORECASE,
)
_DECISION_LINE = re.compile(
    r"^[\s#>*_-]*(?:final[ \t]+)?(?:decision|verdict)[\s*_]*[:=][\s*_`\"']*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)


# the answer's shape: a model agent with `structured: true` is constrained to it
ANSWER = {
    "name": "answer",
    "kind": "json_schema",
    "description": "the review as one JSON object",
    "schema": {
        "type": "object",
        "properties": {
            "decision": {"enum": ["approve", "request_changes", "reject"]},
            "comments": {"type": "string"},
        },
        "required": ["decision", "comments"],
    },
}


class AgentReviewerConfig(ReviewerConfig):
    kind: Literal["agent"] = "agent"
    agent: str = Field(description="an agent of the same playbook")
    rubric: str = DEFAULT_RUBRIC
    prompt_template: str | None = Field(None, description="template file (playbook-relative)")

    def build(self, name: str, ctx: BuildContext) -> AgentReviewer:
        template = ctx.template(self.prompt_template, "review.txt")
        assert template is not None
        return AgentReviewer(
            name, ctx.answering_agent(self.agent, "reviewer"), self.rubric, template
        )


class AgentReviewer:
    """Asks an agent to review; its answer is parsed by `parse_review`."""

    kind = "agent"

    def __init__(self, name: str, agent: Agent, rubric: str, template: str) -> None:
        self.name = name
        self.agent = agent
        self.rubric = rubric
        self.template = template

    def prompt(self, candidate: Candidate) -> str:
        """What the reviewing agent is asked."""
        return render_attempt(self.template, candidate, rubric=self.rubric)

    async def review(self, candidate: Candidate) -> ReviewResult | AwaitHuman:
        assignment = Assignment(
            item_id=candidate.item_id,
            attempt=candidate.attempt,
            objective=self.prompt(candidate),
            risk=candidate.risk,
            tags=candidate.tags,
            acceptance=(ANSWER,),
        )
        try:
            result = await self.agent.run(assignment)
        except Exception as exc:  # any failure of the reviewing agent is a failed review
            reason = str(exc) or type(exc).__name__
            raise ReviewError(
                f"reviewing agent {self.agent.name} failed: {clip(reason, 2_000)}"
            ) from exc
        if isinstance(result, AwaitHuman):
            return result
        if not isinstance(result, AgentResult):
            raise ReviewError(
                f"reviewing agent {self.agent.name} returned {type(result).__name__}, "
                "expected AgentResult"
            )
        answer = result.text if result.data is None else json.dumps(result.data, default=str)
        parsed = parse_review(answer)
        return ReviewResult(parsed.decision, parsed.comments, result.usage)


def parse_review(text: str) -> ReviewResult:
    """A decision from a reviewer's answer: a JSON object, a 'DECISION:' line, or clear words.

    Raises ReviewError when no decision, or more than one, is found.
    """
    found = [_from_json(value) for value in json_values(text) if isinstance(value, dict)]
    decided = [r for r in found if r is not None]
    if decided:
        return _one(decided, text)
    lines = [d for d in (_alias_prefix(m.group(1)) for m in _DECISION_LINE.finditer(text)) if d]
    if lines:
        return _one([ReviewResult(d, _free_comments(text)) for d in lines], text)
    words = {d for d, pattern in _WORDS for m in pattern.finditer(text) if not _negated(text, m)}
    return _one([ReviewResult(d, _free_comments(text)) for d in words], text)


def _one(results: list[ReviewResult], text: str) -> ReviewResult:
    decisions = {r.decision for r in results}
    if len(decisions) == 1:
        return results[0]
    what = f"conflicting decisions {', '.join(sorted(decisions))}" if decisions else "no decision"
    snippet = clip(text.strip(), SNIPPET_LIMIT) or "(empty answer)"
    raise ReviewError(f"could not find a decision in the reviewer's answer ({what}): {snippet!r}")


def _from_json(obj: dict[str, Any]) -> ReviewResult | None:
    obj = {str(k).lower(): v for k, v in obj.items()}
    decision = next((d for k in _DECISION_KEYS if (d := _alias(obj.get(k))) is not None), None)
    if decision is None:
        return None
    comments = next((obj[k] for k in _COMMENT_KEYS if obj.get(k)), "")
    if not isinstance(comments, str):
        comments = json.dumps(comments, ensure_ascii=False, default=str)
    return ReviewResult(decision, comments)


def _normal(value: str) -> str:
    return re.sub(r"[\s_-]+", "_", value.strip().lower())


def _alias(value: Any) -> Decision | None:
    return _ALIASES.get(_normal(value)) if isinstance(value, str) else None


def _alias_prefix(rest: str) -> Decision | None:
    # "approve", "Request changes.", "reject - the approach is wrong"
    words = re.findall(r"[a-z]+", rest.lower())
    for n in (2, 1):
        decision = _ALIASES.get("_".join(words[:n]))
        if decision is not None:
            return decision
    return None


def _negated(text: str, match: re.Match[str]) -> bool:
    return _NEGATION.search(text, max(0, match.start() - 40), match.start()) is not None


def _free_comments(text: str) -> str:
    return clip(text.strip(), COMMENTS_LIMIT)
