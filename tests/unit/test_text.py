"""The one reading of JSON out of an answer, shared by verifiers, reviewers, judges and
agents (it used to be three readings, each lenient differently)."""

from __future__ import annotations

from typing import Any

import pytest

from baton.core.records import Candidate
from baton.core.text import clip, extract_json, json_values
from baton.review.agent import parse_review
from baton.verify.judge import parse_score


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ('{"a": 1}', [{"a": 1}]),
        ("  [1, 2]\n", [[1, 2]]),
        ('"just a string"', ["just a string"]),
        ('Here:\n```json\n{"a": 1}\n```\nand\n```\n[2]\n```', [{"a": 1}, [2]]),
        ('```JSON\n{"a": 1}\n```', [{"a": 1}]),
        # fenced blocks win over objects in the prose around them
        ('{"x": 0} then\n```json\n{"a": 1}\n```', [{"a": 1}]),
        ('Sure: {"a": {"b": 2}} and {"c": 3}.', [{"a": {"b": 2}}, {"c": 3}]),
        ("no json { here", []),
        ("", []),
    ],
)
def test_json_values(text: str, values: list[Any]) -> None:
    assert json_values(text) == values


def test_extract_json_takes_the_first_and_says_why_there_is_none() -> None:
    assert extract_json('I think {"a": 1} or {"a": 2}') == {"a": 1}
    with pytest.raises(ValueError, match=r"^Expecting value \(line 1, column 1\)$"):
        extract_json("no json here")


def test_every_reader_uses_the_same_rules() -> None:
    """An object in prose is found alike by a verifier's json_value, a reviewer and a judge."""
    answer = 'My answer: {"decision": "approve", "comments": "ok", "score": 8}'
    view = Candidate(item_id="i", attempt=1, agent="a", objective="o", inputs={}, text=answer)
    assert view.json_value() == {"decision": "approve", "comments": "ok", "score": 8}
    assert parse_review(answer).comments == "ok"
    assert parse_score(answer, 10) == (8.0, "ok")


def test_clip_keeps_head_and_tail() -> None:
    assert clip("abcdef", 10) == "abcdef"
    cut = clip("a" * 10 + "b" * 10, 10)
    assert cut.startswith("aaaaa") and cut.endswith("bbbbb") and "[10 characters cut]" in cut
