"""Playbook loading: every problem named by file, line and field; nothing runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from baton.config.loading import load_playbook
from baton.core.vocabulary import Gate
from baton.errors import NotFound, PlaybookError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
name: good
agents:
  a:
    kind: human
  b:
    kind: human
cascade: [a, b]
reviewers:
  gate:
    kind: policy
    max_risk: medium
verifiers:
  has-ok:
    kind: contains
    text: ok
policy:
  order: [verify, review]
budget:
  attempts: 4
  cost: 1.5
"""


def test_a_good_playbook_builds(tmp_path: Path) -> None:
    book = load_playbook(write(tmp_path, GOOD))
    assert book.cascade == ("a", "b")
    plan = book.plan_for(risk="high", tags=[], budget={"attempts": 2})
    assert plan.order == (Gate.VERIFY, Gate.REVIEW)
    assert [v.name for v in plan.verifiers] == ["has-ok"]
    assert (plan.budget.attempts, plan.budget.cost) == (2, 1.5)
    assert len(book.digest) == 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("name: good", "name: 'bad name'"),
            "pb.yaml:1: name: String should match pattern",
        ),
        (
            GOOD.replace("  attempts: 4", "  attempts: 0"),
            "pb.yaml:19: budget.attempts: Input should be greater than or equal to 1, got 0",
        ),
        (
            GOOD.replace("cascade: [a, b]", "cascade: [a, c]"),
            "pb.yaml:7: cascade[1]: unknown agent 'c' (known: a, b)",
        ),
        (
            GOOD.replace("kind: contains", "kind: contain"),
            "pb.yaml:14: verifiers.has-ok.kind: unknown verifier kind 'contain'",
        ),
        (
            GOOD.replace("    text: ok", "    txt: ok"),
            "pb.yaml:15: verifiers.has-ok.txt: unknown field",
        ),
        (
            GOOD.replace("order: [verify, review]", "order: [review, verify]"),
            "pb.yaml:9: reviewers.gate: decides on check results, so policy.order must put verify before review",
        ),
        (
            GOOD.replace("order: [verify, review]", "order: [verify]"),
            "pb.yaml:17: policy.order: must name each of review and verify exactly once",
        ),
        (GOOD + "agents: {}\n", "pb.yaml:21: agents: duplicate key"),
        ("name: x\nagents:\n  a: [unclosed\n", "pb.yaml:4: invalid YAML"),
        (
            GOOD.replace("cascade: [a, b]\n", ""),
            "pb.yaml:2: agents: several agents: name their order in cascade",
        ),
        ("- just\n- a list\n", "pb.yaml:1: a playbook is a mapping"),
        (
            GOOD.replace(
                "    kind: contains\n    text: ok", "    kind: json_schema\n    schema: 5"
            ),
            "pb.yaml:15: verifiers.has-ok.schema: Input should be a valid dictionary, got 5",
        ),
    ],
)
def test_problems_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("  attempts: 4", "  attempts: 0").replace("kind: contains", "kind: nope")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    fields = [p.field for p in caught.value.problems]
    assert fields == ["verifiers.has-ok.kind", "budget.attempts"]


def test_build_errors_are_located(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    kind: contains\n    text: ok", "    kind: command\n    command: no-such-program-xyz"
    )
    with pytest.raises(
        PlaybookError, match=r"pb.yaml:13: verifiers.has-ok: command not found: no-such-program-xyz"
    ):
        load_playbook(write(tmp_path, text))


def test_an_agent_that_cannot_be_built_is_reported_once(tmp_path: Path) -> None:
    text = GOOD.replace("  a:\n    kind: human", "  a:\n    kind: llama\n    model: gone.gguf")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    assert [p.field for p in caught.value.problems] == ["agents.a"], "not again as cascade[0]"
    assert "gone.gguf: no such file" in caught.value.problems[0].message
    text = GOOD.replace("cascade: [a, b]", "cascade: [a, c]")
    with pytest.raises(PlaybookError, match=r"cascade\[1\]: unknown agent 'c' \(known: a, b\)"):
        load_playbook(write(tmp_path, text))


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such playbook file"):
        load_playbook(tmp_path / "nope.yaml")
