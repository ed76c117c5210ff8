"""The agent of the `contacts` playbook: one contact record in, the record cleaned out.

baton calls `normalize` with the attempt's Assignment: `inputs` is the item's inputs,
`feedback` what the checks said of the previous attempt (empty on the first)."""

from __future__ import annotations

import re
from typing import Any

from baton import Assignment


def normalize(assignment: Assignment) -> dict[str, Any]:
    """Names capitalised, the email trimmed and in lower case, the phone as +digits."""
    record = assignment.inputs
    digits = re.sub(r"\D", "", record["phone"])
    if not record["phone"].strip().startswith("+"):
        digits = "44" + digits.lstrip("0")  # a national number: this playbook's are British
    return {
        "name": " ".join(part.capitalize() for part in record["name"].split()),
        "email": record["email"].strip().lower().removeprefix("mailto:"),
        "phone": "+" + digits,
    }
