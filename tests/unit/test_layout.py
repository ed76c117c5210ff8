"""The package's shape, checked: which folder may import which (imports inside functions
and under TYPE_CHECKING count too), no import cycle, folders and modules a newcomer can
hold in their head, and mypy (with the pydantic plugin) and ruff clean."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

# what each part of the package may import (besides itself); docs/architecture.md
# draws the same table
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "errors": {"core"},
    "system": {"core", "errors"},
    "config": {"core", "errors", "system"},
    "store": {"core", "errors", "config"},
    "agents": {"core", "errors", "system", "config"},
    "review": {"core", "errors", "system", "config"},
    "verify": {"core", "errors", "system", "config"},
    "runtime": {"core", "errors", "system", "config", "store"},
    "services": {"core", "errors", "system", "config", "store", "runtime"},
    "api": {"baton", "core", "errors", "system", "config", "store", "runtime", "services"},
    "cli": {
        "baton",
        "core",
        "errors",
        "system",
        "config",
        "store",
        "runtime",
        "services",
        "api",
        "agents",
        "review",
        "verify",
        "demo",
        "templates",
    },
    "testing": {"core", "errors", "config", "store", "runtime", "agents"},
    "demo": {"baton"},
    "templates": {"baton"},
}
MAX_MODULES = 12  # in one folder, besides its __init__
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "baton").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules `name` imports, wherever in the module the import is."""
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def part(module: str) -> str:
    """The part of the package a module belongs to: its folder, or errors, testing, baton."""
    pieces = module.split(".")
    if len(pieces) == 1:
        return "baton"
    if pieces[1] == "__main__":
        return "cli"
    return pieces[1]


def test_each_part_imports_only_the_parts_below_it() -> None:
    wrong = []
    for module, targets in graph().items():
        mine = part(module)
        if mine == "baton":
            continue  # the public surface re-exports from anywhere
        for target in targets:
            theirs = part(target)
            if theirs != mine and theirs not in ALLOWED.get(mine, set()):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_the_plugin_bases_are_a_leaf() -> None:
    """The bases every kind derives from import no kind, no store, no runtime."""
    targets = graph()["baton.config.plugin"]
    assert {part(t) for t in targets} <= {"core", "config"}
    assert targets <= {"baton.core.records", "baton.config.prompts"}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_folders_and_modules_stay_small() -> None:
    crowded = {
        str(folder.relative_to(SRC)): n
        for folder in (SRC / "baton").rglob("*")
        if folder.is_dir() and folder.name != "__pycache__"
        if (n := len([p for p in folder.glob("*.py") if p.name != "__init__.py"])) > MAX_MODULES
    }
    assert crowded == {}
    long = {
        str(path.relative_to(SRC)): n
        for path in (SRC / "baton").rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.slow
def test_mypy_with_the_pydantic_plugin_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
