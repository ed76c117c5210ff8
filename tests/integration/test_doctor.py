"""`baton doctor` with the real command: every check, what a failed one says to do, and
exit 1 when a required one fails."""

from __future__ import annotations

import json
import os

from tests.conftest import Baton
from tests.redis_server import free_port


def checks(out: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(out)}


def test_a_ready_machine(baton: Baton) -> None:
    done = baton("doctor", "--json", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    found = checks(done.stdout)
    assert list(found) == [
        "python",
        "baton",
        "command",
        "store",
        "git",
        "redis",
        "model",
        "cores",
        "chromium",
    ]
    assert found["python"]["ok"] and found["baton"]["ok"] and found["git"]["ok"]
    assert found["store"]["ok"] is None  # nothing has run here yet: not a fault
    assert "nothing has run here yet" in str(found["store"]["detail"])
    assert "usable" in str(found["cores"]["detail"])
    if os.environ.get("CI") == "true":  # CI installs the model: it must load and answer
        assert found["model"]["ok"], found["model"]
        assert "loaded and answered" in str(found["model"]["detail"])
    for check in found.values():
        assert check["ok"] is not False or check["fix"], f"{check['name']} says what to do"


def test_a_store_out_of_reach_fails_it(baton: Baton) -> None:
    done = baton("doctor", "--json", "--store", f"redis://127.0.0.1:{free_port()}/0", timeout=180)
    assert done.returncode == 1
    store = checks(done.stdout)["store"]
    assert store["ok"] is False and store["required"] and "cannot reach" in str(store["detail"])
    table = baton("doctor", "--store", f"redis://127.0.0.1:{free_port()}/0", timeout=180)
    assert table.returncode == 1 and "check --store / BATON_STORE" in table.stdout
