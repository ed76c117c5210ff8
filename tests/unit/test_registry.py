"""Plugin kinds come from entry points, baton's own exactly like a third party's: a clash,
a package that cannot be loaded or a class that does not fit is an error naming them when a
playbook uses that kind, and every other kind goes on working. A section is validated as a
discriminated union of the installed kinds."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.config import registry
from baton.config.loading import load_playbook
from baton.errors import PlaybookError


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    sys.modules.pop("shout_plugin", None)
    registry.kinds.cache_clear()
    registry.union.cache_clear()
    yield
    sys.modules.pop("shout_plugin", None)
    registry.kinds.cache_clear()
    registry.union.cache_clear()


def install(site: Path, dist: str, entry_points: str, modules: dict[str, str]) -> None:
    """A distribution as pip leaves it: its dist-info (metadata, entry points) and modules."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


SHOUT = """\
    from typing import Literal
    from baton import AgentConfig, AgentResult

    class ShoutConfig(AgentConfig):
        kind: Literal["shout"] = "shout"
        word: str

        def build(self, name, ctx):
            return Shout(name, self.word)

    class Shout:
        def __init__(self, name, word):
            self.name, self.word = name, word

        async def run(self, assignment):
            return AgentResult(text=self.word.upper())

    class PythonToo(ShoutConfig):
        kind: Literal["python"] = "python"
"""


def playbook(tmp_path: Path, agents: str) -> Path:
    path = tmp_path / "playbook.yaml"
    path.write_text("name: p\nagents:\n" + textwrap.indent(textwrap.dedent(agents), "  "))
    return path


def test_builtin_kinds_are_entry_points_of_the_baton_distribution() -> None:
    agents = registry.kinds("baton.agents")
    assert sorted(agents.found) == ["command", "human", "llama", "openai", "python"]
    assert agents.broken == {}
    assert sorted(registry.kinds("baton.reviewers").found) == ["agent", "human", "policy"]
    assert "judge" in registry.kinds("baton.verifiers").found


def test_a_third_party_kind_works_like_a_builtin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install(
        site,
        "baton_shout",
        """\
        [baton.agents]
        shout = shout_plugin:ShoutConfig
        """,
        {"shout_plugin": SHOUT},
    )
    monkeypatch.syspath_prepend(str(site))
    book = load_playbook(playbook(tmp_path, "a:\n  kind: shout\n  word: hi\n"))
    assert book.agents["a"].kind == "shout"
    assert book.agents["a"].agent.word == "hi"  # type: ignore[attr-defined]


def test_a_name_two_packages_declare_is_an_error_where_it_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install(
        site,
        "baton_shout",
        """\
        [baton.agents]
        python = shout_plugin:PythonToo
        shout = shout_plugin:ShoutConfig
        """,
        {"shout_plugin": SHOUT},
    )
    monkeypatch.syspath_prepend(str(site))
    agents = registry.kinds("baton.agents")
    assert "python" not in agents.found and "shout" in agents.found
    with pytest.raises(PlaybookError) as e:
        load_playbook(playbook(tmp_path, "a:\n  kind: python\n  function: m:f\n"))
    (problem,) = e.value.problems
    assert (problem.line, problem.field) == (4, "agents.a.kind")
    assert problem.message.startswith("agent kind 'python' is declared by several installed ")
    assert "baton-orchestrator (baton.agents.python:PythonAgentConfig)" in problem.message
    assert "baton_shout (shout_plugin:PythonToo)" in problem.message
    # the other kinds are unaffected
    assert load_playbook(playbook(tmp_path, "a:\n  kind: human\n")).agents["a"].kind == "human"


def test_a_package_that_cannot_load_or_does_not_fit_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    install(
        site,
        "baton_broken",
        """\
        [baton.agents]
        gone = no_such_module:Config
        yell = shout_plugin:ShoutConfig
        """,
        {"shout_plugin": SHOUT},
    )
    monkeypatch.syspath_prepend(str(site))
    broken = registry.kinds("baton.agents").broken
    assert broken["gone"].startswith(
        "'gone' comes from baton_broken (no_such_module:Config), which cannot be loaded: "
        "ModuleNotFoundError"
    )
    assert broken["yell"] == (
        "'yell' comes from baton_broken (shout_plugin:ShoutConfig), but its kind field is not "
        'Literal["yell"] (the name of its entry point)'
    )
    with pytest.raises(PlaybookError, match="agent kind 'gone' comes from baton_broken"):
        load_playbook(playbook(tmp_path, "a:\n  kind: gone\n"))


def test_sections_are_a_discriminated_union(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError) as e:
        load_playbook(
            playbook(
                tmp_path,
                """\
                a:
                  kind: python
                  functon: m:f
                b:
                  kind: robot
                c:
                  concurrency: 2
                """,
            )
        )
    got = {(p.line, p.field): p.message for p in e.value.problems}
    assert got[(3, "agents.a.function")] == "required field is missing"
    assert got[(5, "agents.a.functon")].startswith("unknown field (expected one of: ")
    assert "function" in got[(5, "agents.a.functon")]  # the fields of the kind chosen
    assert got[(7, "agents.b.kind")] == (
        "unknown agent kind 'robot' (expected one of: command, human, llama, openai, python)"
    )
    assert got[(8, "agents.c.kind")] == (
        "required field is missing (one of: command, human, llama, openai, python)"
    )


def test_a_store_scheme_is_an_entry_point_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baton.errors import InputError
    from baton.store import MemoryStore, open_store

    site = tmp_path / "site"
    install(
        site,
        "baton_elsewhere",
        """\
        [baton.stores]
        elsewhere = elsewhere_store:open_it
        redis = elsewhere_store:open_it
        """,
        {
            "elsewhere_store": """\
            from baton import MemoryStore

            def open_it(url, *, create, reconnect=None):
                store = MemoryStore()
                store.url = url
                return store
            """
        },
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "elsewhere_store", raising=False)
    store = open_store("elsewhere://over/there")
    assert isinstance(store, MemoryStore) and store.url == "elsewhere://over/there"  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="the store scheme 'redis' is declared by several"):
        open_store("redis://127.0.0.1:6379/0")
    with pytest.raises(
        InputError, match=r"unsupported store 'nope'.*installed schemes: .*elsewhere"
    ):
        open_store("nope://x")


def test_the_same_target_declared_twice_is_one_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale copy of a distribution (an old name's metadata left beside the new one)
    declares the same kinds with the same targets: not a clash."""
    site = tmp_path / "site"
    install(
        site,
        "baton_stale",
        """\
        [baton.agents]
        python = baton.agents.python:PythonAgentConfig
        """,
        {},
    )
    monkeypatch.syspath_prepend(str(site))
    agents = registry.kinds("baton.agents")
    assert "python" in agents.found and "python" not in agents.broken
