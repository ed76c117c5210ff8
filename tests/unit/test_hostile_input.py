"""Input made to hurt (or just wrong in a rare way) gets a clear error naming the file, the
line and the field, in good time, and nothing runs: YAML alias bombs, deep nesting, keys
that are lists, huge numbers, a schema file that is a device, a module that exits when
imported, an id given twice. A plugin that calls exit() fails its attempt, not baton."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from baton import AgentResult, Assignment
from baton.config.items import load_items
from baton.config.loading import load_playbook
from baton.config.playbook import Playbook
from baton.config.sections import BudgetModel
from baton.errors import InputError, ItemsError, PlaybookError
from baton.testing import FunctionAgent, run_items

PLAYBOOK = "name: p\nagents:\n  a:\n    kind: human\n"


def problems(error: InputError) -> list[tuple[int | None, str, str]]:
    return [(p.line, p.field, p.message) for p in error.problems]


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["name: p", "agents: {a: {kind: human}}", 'x0: &x0 ["lol", "lol", "lol", "lol"]']
    for n in range(1, 12):  # 4**12 values once expanded
        lines.append(f"x{n}: &x{n} [*x{n - 1}, *x{n - 1}, *x{n - 1}, *x{n - 1}]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(PlaybookError) as e:
        load_playbook(tmp_path / "bomb.yaml")
    ((line, _, message),) = problems(e.value)
    assert message.startswith("the document expands to more than 100,000 values (YAML aliases")
    assert line is not None


def test_deep_nesting_and_keys_that_are_lists(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text(PLAYBOOK + "extra: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(PlaybookError, match=r"nested too deeply \(at most 100 levels\)"):
        load_playbook(tmp_path / "deep.yaml")
    (tmp_path / "keys.yaml").write_text(PLAYBOOK + "? [a, b]\n: value\n")
    with pytest.raises(PlaybookError) as e:
        load_playbook(tmp_path / "keys.yaml")
    assert (5, "", "a key must be a plain value, not a list or a mapping") in problems(e.value)


def test_numbers_too_long_for_python(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text(PLAYBOOK + "budget:\n  attempts: " + "9" * 5000 + "\n")
    with pytest.raises(PlaybookError) as e:
        load_playbook(tmp_path / "big.yaml")
    assert problems(e.value) == [(6, "budget.attempts", "a number of 5,000 digits (at most 4,300)")]
    book = _book(tmp_path)
    (tmp_path / "items.jsonl").write_text(
        '{"objective": "ok"}\n{"objective": "x", "inputs": {"n": '
        + "1" * 5000
        + "}}\n"
        + '{"objective": "y", "inputs": '
        + "[" * 5000
        + "]" * 5000
        + "}\n"
    )
    with pytest.raises(ItemsError) as e2:
        load_items(tmp_path / "items.jsonl", book)
    got = problems(e2.value)
    assert got[0][0] == 2 and got[0][2].startswith("invalid JSON: Exceeds the limit (4300 digits)")
    assert got[1] == (3, "", "invalid JSON: nested too deeply")


def test_a_schema_file_must_be_a_file_beside_the_playbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.yaml").write_text(
        PLAYBOOK + "verifiers:\n  s:\n    kind: json_schema\n    schema_file: /dev/zero\n"
    )
    with pytest.raises(PlaybookError) as e:
        load_playbook(tmp_path / "p.yaml")
    ((line, field, message),) = problems(e.value)
    assert (line, field) == (6, "verifiers.s")
    assert message.startswith("cannot read schema_file /dev/zero: it is outside the playbook's")
    monkeypatch.setenv("BATON_PLAYBOOK_FILES", "anywhere")
    with pytest.raises(
        PlaybookError, match="cannot read schema_file /dev/zero: not a regular file"
    ):
        load_playbook(tmp_path / "p.yaml")


def test_a_module_that_exits_when_imported_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "quits.py").write_text("raise SystemExit(0)\n\ndef work(task):\n    return 'x'\n")
    (tmp_path / "p.yaml").write_text(
        "name: p\nagents:\n  a:\n    kind: python\n    function: quits:work\n"
    )
    with pytest.raises(PlaybookError) as e:
        load_playbook(tmp_path / "p.yaml")
    assert problems(e.value) == [
        (3, "agents.a", "cannot import 'quits': it called exit(0) while being imported")
    ]


def test_an_id_given_twice_names_the_file_and_both_lines(tmp_path: Path) -> None:
    book = _book(tmp_path)
    (tmp_path / "items.jsonl").write_text(
        '{"id": "a", "objective": "x"}\n{"id": "b", "objective": "y"}\n{"id": "a", "objective": "z"}\n'
    )
    with pytest.raises(ItemsError) as e:
        load_items(tmp_path / "items.jsonl", book)
    file = str(tmp_path / "items.jsonl")
    assert problems(e.value) == [(3, "id", f"duplicate item id 'a': line 1 of {file} has it too")]
    (tmp_path / "items.yaml").write_text(
        textwrap.dedent(
            """\
            - id: a
              objective: x
            - id: a
              objective: y
            """
        )
    )
    with pytest.raises(ItemsError) as e:
        load_items(tmp_path / "items.yaml", book)
    file = str(tmp_path / "items.yaml")
    assert problems(e.value) == [
        (3, "[1].id", f"duplicate item id 'a': line 1 of {file} has it too")
    ]


async def test_an_agent_that_calls_exit_fails_its_attempt_not_the_engine() -> None:
    def quits(assignment: Assignment) -> AgentResult:
        raise SystemExit(3)

    book = Playbook.build(
        "q", agents={"q": FunctionAgent("q", quits)}, budget=BudgetModel(attempts=1)
    )
    state = next(iter((await run_items(book, ["x"])).values()))
    assert (state.attempts[0].error or "").startswith("the agent raised SystemExit: 3")


def _book(tmp_path: Path) -> Playbook:
    (tmp_path / "book.yaml").write_text(PLAYBOOK)
    return load_playbook(tmp_path / "book.yaml")
