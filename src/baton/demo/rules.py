"""Field rules for a triage record, beyond its schema: what a triager would check."""

from __future__ import annotations

import re

from baton import Candidate, CheckResult

COMPONENTS = ("editor", "sync", "login", "billing", "search")
SEVERE = ("crash", "crashes", "lost", "loses", "data loss", "charged twice", "cannot log in")


def triage_rules(candidate: Candidate) -> CheckResult:
    """The component is the one the report names; severe reports are high or critical."""
    try:
        record = candidate.json_value()
    except ValueError:
        return CheckResult(False, "the output is not a JSON triage record")
    if not isinstance(record, dict):
        return CheckResult(False, "the output is JSON but not an object")
    report = candidate.objective.partition(":")[2].lower()
    problems = []
    named = [c for c in COMPONENTS if re.search(rf"\b{c}\b", report)]
    component = record.get("component")
    if named and component not in named:
        problems.append(
            f"component is {component!r} but the report is about {' or '.join(map(repr, named))}"
        )
    severe = [w for w in SEVERE if w in report]
    if severe and record.get("severity") not in ("high", "critical"):
        problems.append(
            f"severity is {record.get('severity')!r} but the report says "
            f"{severe[0]!r}: it must be 'high' or 'critical'"
        )
    if problems:
        return CheckResult(False, "; ".join(problems))
    return CheckResult(True, f"component {component}, severity {record.get('severity')}: ok")
