"""A model judges the output: it scores it against a rubric, and the check passes at the
threshold. Works with any agent of the playbook (on-device or an OpenAI-compatible one)."""

from __future__ import annotations

import json
import re
from string import Template
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config.plugin import Agent, BuildContext, VerifierConfig
from ..config.prompts import render_attempt
from ..core.records import AgentResult, Assignment, Candidate, CheckResult
from ..core.text import clip, json_values
from ..errors import AgentError

ANSWER_LIMIT = 300  # of an answer without a score, quoted as evidence
_SCORE_KEYS = ("score", "rating", "grade")
_REASON_KEYS = ("reasons", "reason", "comments", "explanation", "feedback")
# "Score: 7", "score = 7/10", "**Rating**: 8.5 out of 10", "7/10"
_SCORE_LINE = re.compile(
    r"\b(?:score|rating|grade)\b[\s*_`\"']*[:=]?[\s*_`\"']*(-?\d+(?:\.\d+)?)", re.IGNORECASE
)
_FRACTION = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


class JudgeVerifierConfig(VerifierConfig):
    kind: Literal["judge"] = "judge"
    agent: str = Field(description="an agent of the same playbook that does the judging")
    rubric: str = Field(description="what a good output is")
    scale: int = Field(10, ge=1, description="the highest score")
    threshold: float = Field(description="the check passes when the score is at least this")
    prompt_template: str | None = Field(None, description="template file (playbook-relative)")

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> JudgeVerifierConfig:
        if not 0 < self.threshold <= self.scale:
            raise ValueError(f"threshold must be above 0 and at most scale ({self.scale})")
        return self

    def build(self, name: str, ctx: BuildContext) -> JudgeVerifier:
        template = ctx.template(self.prompt_template, "judge.txt")
        assert template is not None
        return JudgeVerifier(name, ctx.answering_agent(self.agent, "judge"), self, template)

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description
            or f"a judge scores it against: {self.rubric} (pass: {self.threshold:g}/{self.scale})",
        }


class JudgeVerifier:
    def __init__(self, name: str, agent: Agent, config: JudgeVerifierConfig, template: str) -> None:
        self.name = name
        self.agent = agent
        self.config = config
        self.template = template

    def prompt(self, candidate: Candidate) -> str:
        c = self.config
        text = render_attempt(self.template, candidate, rubric=c.rubric)
        return Template(text).safe_substitute(scale=str(c.scale))

    def answer_schema(self) -> dict[str, Any]:
        return {
            "name": "answer",
            "kind": "json_schema",
            "description": "the judgement as one JSON object",
            "schema": {
                "type": "object",
                "properties": {
                    "score": {"type": "integer", "minimum": 0, "maximum": self.config.scale},
                    "reasons": {"type": "string"},
                },
                "required": ["score", "reasons"],
            },
        }

    async def verify(self, candidate: Candidate) -> CheckResult:
        c = self.config
        assignment = Assignment(
            item_id=candidate.item_id,
            attempt=candidate.attempt,
            objective=self.prompt(candidate),
            risk=candidate.risk,
            tags=candidate.tags,
            acceptance=(self.answer_schema(),),
        )
        try:
            result = await self.agent.run(assignment)
        except AgentError as exc:
            return CheckResult(False, f"the judging agent failed: {exc}", usage=exc.usage)
        if not isinstance(result, AgentResult):
            return CheckResult(
                False, f"the judging agent returned {type(result).__name__}, not an answer"
            )
        answer = result.text if result.data is None else json.dumps(result.data, default=str)
        found = parse_score(answer, c.scale)
        if found is None:
            snippet = clip(answer.strip(), ANSWER_LIMIT) or "(empty answer)"
            return CheckResult(False, f"the judge gave no score: {snippet!r}", usage=result.usage)
        score, reasons = found
        if not 0 <= score <= c.scale:
            return CheckResult(
                False,
                f"the judge's score {score:g} is outside 0..{c.scale}: {reasons}",
                usage=result.usage,
            )
        passed = score >= c.threshold
        verdict = f"score {score:g}/{c.scale} {'>=' if passed else '<'} threshold {c.threshold:g}"
        evidence = f"{verdict}: {reasons}" if reasons else verdict
        return CheckResult(passed, evidence, score=score, usage=result.usage)


def parse_score(text: str, scale: int) -> tuple[float, str] | None:
    """The score (on `scale`) and reasons in a judge's answer; None when there is no score."""
    for value in json_values(text):
        if isinstance(value, dict):
            fields = {str(k).lower(): v for k, v in value.items()}
            for key in _SCORE_KEYS:
                score = _number(fields.get(key))
                if score is not None:
                    reasons = next((fields[k] for k in _REASON_KEYS if fields.get(k)), "")
                    return score, str(reasons).strip()
    reasons = clip(text.strip(), 2_000)
    line = _SCORE_LINE.search(text)
    if line:
        score = float(line.group(1))
        fraction = _FRACTION.match(text, line.start(1))
        if fraction and float(fraction.group(2)) not in (0, scale):
            score = score / float(fraction.group(2)) * scale  # "4/5" on a scale of 10
        return score, reasons
    fraction = _FRACTION.search(text)
    if fraction and float(fraction.group(2)) == scale:
        return float(fraction.group(1)), reasons
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?)?\s*", value)
        return float(match.group(1)) if match else None
    return None
