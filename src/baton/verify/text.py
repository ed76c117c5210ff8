"""Verify the output's text (or one JSON field of it): a regular expression, or strings it
must contain (or must not)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from ..config.plugin import BuildContext, VerifierConfig
from ..core.records import Candidate, CheckResult

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL}


def subject(candidate: Candidate, field: str | None) -> str:
    """The text to check: the output, or a dotted field of its JSON value."""
    if field is None:
        return candidate.text
    try:
        value: Any = candidate.json_value()
    except ValueError as exc:
        raise LookupError(f"output is not JSON, so it has no field {field!r}: {exc}") from None
    for part in field.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupError(f"output has no field {field!r}")
    return value if isinstance(value, str) else str(value)


class RegexVerifierConfig(VerifierConfig):
    kind: Literal["regex"] = "regex"
    pattern: str
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL"]] = Field(default_factory=list)
    forbid: bool = False
    field: str | None = None

    def build(self, name: str, ctx: BuildContext) -> RegexVerifier:
        flags = 0
        for flag in self.flags:
            flags |= _FLAGS[flag]
        try:
            compiled = re.compile(self.pattern, flags)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return RegexVerifier(name, compiled, self.forbid, self.field)

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        verb = "must not match" if self.forbid else "must match"
        where = f"field {self.field}" if self.field else "output"
        return {
            "kind": self.kind,
            "description": self.description or f"{where} {verb} /{self.pattern}/",
        }


class RegexVerifier:
    def __init__(
        self, name: str, pattern: re.Pattern[str], forbid: bool, field: str | None
    ) -> None:
        self.name = name
        self.pattern = pattern
        self.forbid = forbid
        self.field = field

    async def verify(self, candidate: Candidate) -> CheckResult:
        try:
            text = subject(candidate, self.field)
        except LookupError as exc:
            return CheckResult(False, str(exc))
        match = self.pattern.search(text)
        where = f"field {self.field}" if self.field else "the output"
        if self.forbid:
            if match:
                return CheckResult(
                    False,
                    f"{where} must not match /{self.pattern.pattern}/ but has {match.group(0)!r}",
                )
            return CheckResult(True, f"{where} does not match /{self.pattern.pattern}/")
        if match:
            return CheckResult(
                True, f"{where} matches /{self.pattern.pattern}/: {match.group(0)[:200]!r}"
            )
        return CheckResult(
            False, f"{where} does not match /{self.pattern.pattern}/: {text[:300]!r}"
        )


class ContainsVerifierConfig(VerifierConfig):
    kind: Literal["contains"] = "contains"
    text: str | list[str]
    case_sensitive: bool = True
    forbid: bool = False
    field: str | None = None

    def build(self, name: str, ctx: BuildContext) -> ContainsVerifier:
        needles = [self.text] if isinstance(self.text, str) else list(self.text)
        if not needles or any(not n for n in needles):
            raise ValueError("text must name at least one non-empty string")
        return ContainsVerifier(name, needles, self.case_sensitive, self.forbid, self.field)

    def describe(self, ctx: BuildContext | None = None) -> dict[str, Any]:
        verb = "must not contain" if self.forbid else "must contain"
        return {
            "kind": self.kind,
            "description": self.description or f"output {verb} {self.text!r}",
        }


class ContainsVerifier:
    def __init__(
        self, name: str, needles: list[str], case_sensitive: bool, forbid: bool, field: str | None
    ) -> None:
        self.name = name
        self.needles = needles
        self.case_sensitive = case_sensitive
        self.forbid = forbid
        self.field = field

    async def verify(self, candidate: Candidate) -> CheckResult:
        try:
            text = subject(candidate, self.field)
        except LookupError as exc:
            return CheckResult(False, str(exc))
        haystack = text if self.case_sensitive else text.lower()
        found = [n for n in self.needles if (n if self.case_sensitive else n.lower()) in haystack]
        if self.forbid:
            if found:
                return CheckResult(
                    False, f"must not contain, but does: {', '.join(map(repr, found))}"
                )
            return CheckResult(True, "contains none of the forbidden strings")
        missing = [n for n in self.needles if n not in found]
        if missing:
            return CheckResult(
                False, f"missing: {', '.join(map(repr, missing))}; output began {text[:200]!r}"
            )
        return CheckResult(True, f"contains {', '.join(map(repr, self.needles))}")
