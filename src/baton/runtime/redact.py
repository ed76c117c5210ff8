"""Keeping secrets out of the record: every secret value is replaced before events are made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words and numbers


class Redactor:
    """Replaces the values of named environment variables wherever they appear in data."""

    def __init__(self, names: Iterable[str], environ: Mapping[str, str]) -> None:
        pairs = [
            (environ[n], n)
            for n in sorted(set(names))
            if len(environ.get(n, "")) >= MIN_SECRET_LENGTH
        ]
        # longest first, so a secret that contains another is replaced whole
        self._pairs = sorted(pairs, key=lambda p: -len(p[0]))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def text(self, value: str) -> str:
        for secret, name in self._pairs:
            if secret in value:
                value = value.replace(secret, f"[secret {name}]")
        return value

    def data(self, value: Any) -> Any:
        """A copy of JSON-like data with every secret value replaced."""
        if not self._pairs:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
