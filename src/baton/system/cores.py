"""How many CPU cores this process may use, and how many of them are free now.

Usable: the cores of the process's CPU affinity, capped by a cgroup CPU quota (a container
limited to 1.5 CPUs has 1 usable core whatever the machine has). Free: the usable cores
less the load other processes put on the machine (the 1-minute load average), at least 1.
A program that starts one thread per core on a busy machine gets far less done than one
that starts as many as are free: threads that wait for a core spin and hold the others up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def usable_cores() -> int:
    """The cores this process may run on (affinity, within any cgroup CPU quota)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """CPUs the cgroup may use (cgroup v2 cpu.max, or v1 cfs quota/period); None: no limit."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # v2: "max 100000"
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


def free_cores() -> int:
    """Usable cores the rest of the machine leaves free now (1-minute load), at least 1."""
    usable = usable_cores()
    try:
        load = os.getloadavg()[0]
    except OSError:
        return usable
    return max(1, min(usable, round(usable - load)))
