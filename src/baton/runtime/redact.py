"""Keeping secrets out of the record: every secret value is replaced before events are made.

What counts as the secret, for a value V of an environment variable the playbook names:
V itself; its base64 (standard and URL-safe, at each of the three alignments it can have
inside a longer encoded text), hex (either case), URL encoding and JSON escaping; and any
run of at least MIN_FRAGMENT characters from its start or its end, which is what is left
of V when something cut a long text across it (a clipped output, an excerpt). A secret is
a random token: its pieces do not occur in ordinary text. Every string in the data is
searched, dictionary keys too; a number or another scalar whose text holds the secret is
replaced by the marker as a whole. A value shorter than MIN_SECRET_LENGTH cannot be told
apart from ordinary words and numbers, so it is refused rather than silently kept.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from ..config.plugin import MIN_SECRET_LENGTH, secret_too_short
from ..errors import InputError

MIN_FRAGMENT = 8
"""The shortest piece of a secret (cut by clipping) that is still redacted."""


class Redactor:
    """Replaces the values of named environment variables wherever they appear in data."""

    def __init__(self, names: Iterable[str], environ: Mapping[str, str]) -> None:
        needles: dict[str, str] = {}  # text -> the marker that replaces it
        for name in sorted(set(names)):
            value = environ.get(name, "")
            if not value:
                continue  # not set: there is nothing to leak
            if len(value) < MIN_SECRET_LENGTH:
                raise InputError(secret_too_short(name, len(value)))
            marker = f"[secret {name}]"
            for form in forms(value):
                needles.setdefault(form, marker)
        self._markers = needles
        # longest first, so a secret that contains another (or its own fragment) goes whole
        ordered = sorted(needles, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._markers[m.group(0)], value)

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data with every secret replaced, in any scalar."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if value is None or isinstance(value, bool):
            return value
        shown = str(value)  # a number (or any other scalar) is text too, once recorded
        redacted = self.text(shown)
        return value if redacted == shown else redacted


def forms(value: str) -> list[str]:
    """Every text under which `value` may be recorded (see the module's docstring)."""
    raw = value.encode("utf-8")
    found = {value, raw.hex(), raw.hex().upper(), quote(value, safe=""), quote_plus(value)}
    found.add(json.dumps(value)[1:-1])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        found.add(encode(raw).decode().rstrip("="))
        for shift in (0, 1, 2):  # the value inside a longer encoded text, at each offset
            encoded = encode(b"\0" * shift + raw).decode()
            first = -(-8 * shift // 6)  # the first character made of the value's bits only
            last = (8 * (shift + len(raw)) - 6) // 6
            if last - first + 1 >= MIN_FRAGMENT:
                found.add(encoded[first : last + 1])
    for length in range(MIN_FRAGMENT, len(value)):
        found.add(value[:length])  # what a clip left before its cut
        found.add(value[-length:])  # and after it
    return sorted(form for form in found if len(form) >= MIN_FRAGMENT or form == value)
