"""Release notes drafted from commit messages, and the check that every ticket made it in."""

from __future__ import annotations

import re

from baton import Assignment, Candidate

TICKET = re.compile(r"\b[A-Z]+-\d+\b")
KINDS = {"feat": "New", "fix": "Fixed", "perf": "Faster", "docs": "Documented"}


def draft(task: Assignment) -> str:
    """One line per user-visible commit, grouped by kind; chores are left out."""
    sections: dict[str, list[str]] = {}
    for message in task.inputs["commits"]:
        kind, _, rest = message.partition(":")
        heading = KINDS.get(kind.strip().split("(")[0])
        if heading is None:
            continue
        sections.setdefault(heading, []).append(rest.strip().rstrip(".") + ".")
    lines = [f"# {task.inputs['version']}"]
    for heading, entries in sections.items():
        lines.append(f"\n## {heading}")
        lines.extend(f"- {entry}" for entry in entries)
    return "\n".join(lines) + "\n"


def mentions_every_ticket(attempt: Candidate) -> tuple[bool, str]:
    """Every ticket of a user-visible commit appears in the notes."""
    wanted = {
        ticket
        for message in attempt.inputs["commits"]
        if message.split(":")[0].split("(")[0] in KINDS
        for ticket in TICKET.findall(message)
    }
    missing = sorted(wanted - set(TICKET.findall(attempt.text)))
    if missing:
        return False, f"tickets missing from the notes: {', '.join(missing)}"
    return True, f"all {len(wanted)} tickets mentioned"
