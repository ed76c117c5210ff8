"""The pure parts of code work: branch names git accepts, allowed paths, numstat parsing."""

from __future__ import annotations

import subprocess

import pytest

from baton.system.worktrees import _numstat, accepted_branch, allowed, branch_name


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("fix-average", "baton/fix-average/3"),
        ("a.b_c-1", "baton/a.b_c-1/3"),
        ("team:42", None),  # ':' is not allowed in a ref: a hash stands in
        ("x..y", None),
        ("ends.lock", None),
    ],
)
def test_branch_names_are_valid_refs(item: str, expected: str | None) -> None:
    name = branch_name(item, 3)
    if expected is not None:
        assert name == expected
    else:
        assert name.startswith("baton/item-") and name.endswith("/3")
    check = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True)
    assert check.returncode == 0, name
    assert accepted_branch(item).startswith("baton/accepted/")


def test_allowed_paths_are_globs_or_folders() -> None:
    assert allowed("anything/at/all.py", ())
    assert allowed("src/pkg/mod.py", ("src/**",))
    assert allowed("src/pkg/mod.py", ("src",))  # a folder allows what is under it
    assert allowed("calc.py", ("*.py",))
    assert not allowed("tests/test_calc.py", ("src/**", "calc.py"))
    assert not allowed("srcx/mod.py", ("src",))


def test_numstat_counts_lines_and_marks_binaries() -> None:
    raw = "3\t1\tcalc.py\x00-\t-\tlogo.png\x000\t5\tdocs/old file.md\x00"
    assert _numstat(raw) == [
        {"path": "calc.py", "added": 3, "removed": 1, "binary": False},
        {"path": "logo.png", "added": 0, "removed": 0, "binary": True},
        {"path": "docs/old file.md", "added": 0, "removed": 5, "binary": False},
    ]
