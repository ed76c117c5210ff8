"""The cores a model may use: the process's own, within a cgroup quota, less the load of a
busy machine (a newcomer's demo took 625 s at load 9 with a thread per core)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.agents.llama import default_threads
from baton.system import cores


def test_cgroup_quota_v2_and_v1(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cores.cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cores.cgroup_quota(tmp_path) == 1.5
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cores.cgroup_quota(v1) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    assert cores.cgroup_quota(v1) == 3.0
    assert cores.cgroup_quota(tmp_path / "none") is None


@pytest.mark.parametrize(
    ("affinity", "quota", "load", "usable", "free"),
    [
        (2, None, 0.1, 2, 2),  # an idle two-core machine
        (2, None, 0.7, 2, 1),  # something else keeps a core busy
        (2, None, 9.0, 2, 1),  # a loaded machine: never fewer than one
        (8, 1.5, 0.0, 1, 1),  # a container allowed 1.5 CPUs of an 8-core machine
        (4, None, 1.2, 4, 3),
    ],
)
def test_usable_and_free_cores(
    monkeypatch: pytest.MonkeyPatch,
    affinity: int,
    quota: float | None,
    load: float,
    usable: int,
    free: int,
) -> None:
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda _: set(range(affinity)))
    monkeypatch.setattr(cores, "cgroup_quota", lambda root=cores.CGROUP: quota)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (load, load, load))
    assert cores.usable_cores() == usable
    assert cores.free_cores() == free


def test_a_model_shares_the_free_cores_among_its_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    import baton.agents.llama as llama

    monkeypatch.setattr(llama, "free_cores", lambda: 4)
    assert default_threads() == 4
    assert default_threads(2) == 2
    assert default_threads(8) == 1


def test_a_local_model_without_threads_takes_the_rule_and_one_with_threads_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import baton.agents.llama as llama

    monkeypatch.setattr(llama, "free_cores", lambda: 3)
    assert llama.LocalModel(Path("m.gguf"), 256, None, None, 1).threads == 3
    assert llama.LocalModel(Path("m.gguf"), 256, None, None, 3).threads == 1
    assert llama.LocalModel(Path("m.gguf"), 256, 2, None, 1).threads == 2
