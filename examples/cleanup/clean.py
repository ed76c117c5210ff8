"""Two contact cleaners: a quick one for tidy records, a thorough one for the rest."""

from __future__ import annotations

import re
from typing import Any

from baton import Assignment

COUNTRY_CODES = {"GB": "44", "US": "1", "FR": "33", "DE": "49", "NL": "31"}


def _name(raw: str) -> str:
    return " ".join(part.capitalize() for part in raw.split())


def quick(task: Assignment) -> dict[str, Any]:
    """Trim and case-fold; keeps the phone's digits as they are."""
    record = task.inputs["record"]
    return {
        "name": _name(record["name"]),
        "email": record["email"].strip().lower(),
        "phone": re.sub(r"[^\d+]", "", record["phone"]),
    }


def thorough(task: Assignment) -> dict[str, Any]:
    """Also rebuilds phone numbers in E.164 from the record's country and strips mailto:."""
    record = task.inputs["record"]
    digits = re.sub(r"\D", "", record["phone"])
    if record["phone"].strip().startswith("+"):
        phone = "+" + digits
    else:
        code = COUNTRY_CODES[record.get("country", "GB")]
        phone = "+" + code + digits.lstrip("0")
    email = record["email"].strip().lower().removeprefix("mailto:")
    return {"name": _name(record["name"].replace(".", " ")), "email": email, "phone": phone}
