"""Text helpers every layer shares: clipping long text, and the one reading of JSON out of
an answer (a model's, a program's, a person's)."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


def clip(text: str, limit: int) -> str:
    """Keep the head and tail of a long text, marking what was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


def json_values(text: str) -> list[Any]:
    """The JSON values an answer holds, in the order a reader takes them.

    The whole answer, when it is JSON; otherwise the ``` fenced blocks that are JSON;
    otherwise every JSON object written in the prose, each whole (an object nested in
    another belongs to it). Empty when the answer holds no JSON.
    """
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:
        return _embedded(text)


def extract_json(text: str) -> Any:
    """The JSON an answer holds (the first of `json_values`); ValueError saying why the
    answer as a whole is not JSON when it holds none."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        found = _embedded(text)
        if found:
            return found[0]
        raise ValueError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def _embedded(text: str) -> list[Any]:
    fenced = []
    for match in _FENCE.finditer(text):
        try:
            fenced.append(json.loads(match.group(1)))
        except json.JSONDecodeError:
            continue
    if fenced:
        return fenced
    found: list[Any] = []
    decoder = json.JSONDecoder()
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        found.append(value)
        position = end
    return found
