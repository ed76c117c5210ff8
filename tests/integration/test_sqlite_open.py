"""Many processes opening one new SQLite store at the same moment (a worker starting as a
`baton submit` runs): every one of them opens it, none is told "database is locked"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPEN = """\
import sys, time
from baton.store import SQLiteStore
start = float(sys.argv[2])
while time.time() < start:
    pass
SQLiteStore(sys.argv[1])
"""


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    import time

    for round_ in range(6):
        path = tmp_path / f"r{round_}" / "baton.db"
        start = time.time() + 1.5  # all of them past their imports, then at once
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN, str(path), str(start)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
