"""A check the schema cannot express: the summary is one short sentence."""

from __future__ import annotations

from baton import Candidate


def short_summary(candidate: Candidate) -> tuple[bool, str]:
    """(passed, evidence): at most 30 words, and one sentence."""
    summary = str(candidate.json_value().get("summary", ""))
    words = len(summary.split())
    if words > 30:
        return False, f"the summary has {words} words; write at most 30"
    if summary.rstrip(".!? ").count(". ") > 0:
        return False, "the summary has more than one sentence; write one"
    return True, f"one sentence of {words} words"
