"""`baton archive` as a user types it, on SQLite and on Redis: what ended moves to a gzip
file beside the store, status and metrics read the same, the audit holds, `show` says where
an item went, `baton import` takes the file elsewhere; bad options change nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ON_EVERY_STORE, Baton

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "approval"


@ON_EVERY_STORE
def test_archive_what_ended_and_read_it_back_elsewhere(tmp_path: Path, baton: Baton) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "approval")
    run = baton("run", "approval/playbook.yaml", "approval/items.yaml", "--no-wait", "--no-live")
    assert run.returncode == 3, run.stdout + run.stderr  # v2.0.0 waits for a person
    status = json.loads(baton("status", "--all", "--json", check=True).stdout)
    metrics = json.loads(baton("metrics", "--json", check=True).stdout)
    shown = baton("show", "v1.4.0", check=True).stdout

    for args, message in [
        ((), "--before DATE or --older-than AGE"),
        (("--older-than", "30"), "'30' is not an age"),
        (("--before", "soon"), "'soon' is not a date"),
        (("--before", "2026-01-01", "--older-than", "1d"), "(one)"),
    ]:
        refused = baton("archive", *args)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    old = baton("archive", "--before", "2000-01-01", check=True)
    assert "nothing to archive: no item ended before 2000-01-01 00:00 UTC" in old.stdout
    plan = json.loads(baton("archive", "--before", "2999-01-01", "--dry-run", "--json").stdout)
    assert (plan["dry_run"], plan["items"], plan["path"]) == (True, 1, None)
    assert baton("show", "v1.4.0", check=True).stdout == shown  # a dry run changes nothing
    folder = tmp_path / "kept"
    done = baton("archive", "--before", "2999-01-01", "--to", str(folder), check=True)
    assert "archived 1 item(s)" in done.stdout and "sha256" in done.stdout, done.stdout
    files = list(folder.glob("baton-archive-*.jsonl.gz"))
    assert len(files) == 1 and files[0].name in done.stdout

    now = json.loads(baton("status", "--all", "--json", check=True).stdout)
    assert now["counts"] == status["counts"]
    unversioned = [{k: v for k, v in r.items() if k != "version"} for r in now["items"]]
    assert unversioned == [{k: v for k, v in r.items() if k != "version"} for r in status["items"]]
    assert [r["version"] for r in now["items"]] == [
        status["items"][0]["version"] + 1,
        status["items"][1]["version"],
    ]  # the marker
    after = json.loads(baton("metrics", "--json", check=True).stdout)
    for figure in ("items", "first_pass_yield", "attempts_per_accepted", "agents"):
        assert after[figure] == metrics[figure], figure
    assert "agree" in baton("metrics", "--rebuild", check=True).stdout
    assert baton("audit", "verify", check=True).returncode == 0
    assert baton("audit", "verify", "--full", check=True).returncode == 0
    gone = baton("show", "v1.4.0")
    assert gone.returncode != 0 and f"events are in {files[0].name}" in gone.stderr, gone.stderr
    assert "baton import" in gone.stderr
    again = baton("archive", "--before", "2999-01-01", "--to", str(folder), check=True)
    assert "nothing to archive" in again.stdout

    held = baton("archive", "--check", "--to", str(folder), check=True).stdout
    assert f"{files[0].name}: 1 item(s), there and whole" in held
    refused = baton("archive", "--check", "--before", "2999-01-01")
    assert refused.returncode != 0 and "--check takes only --to DIR" in refused.stderr
    kept = files[0].read_bytes()
    files[0].write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))  # one bit flipped
    changed = baton("archive", "--check", "--to", str(folder), "--json")
    assert changed.returncode == 1 and "as recorded: it changed" in changed.stdout
    files[0].unlink()
    gone = baton("archive", "--check", "--to", str(folder))
    assert gone.returncode == 1 and "is missing" in gone.stdout, gone.stdout
    files[0].write_bytes(kept)

    elsewhere = ("--store", str(tmp_path / "elsewhere.db"))
    imported = baton(*elsewhere, "import", str(files[0]), check=True)
    assert "(1 items)" in imported.stderr, imported.stderr
    assert baton(*elsewhere, "show", "v1.4.0", check=True).stdout == shown
    assert baton(*elsewhere, "audit", "verify", check=True).returncode == 0


def test_a_file_that_is_not_gzip_inside_is_refused(tmp_path: Path, baton: Baton) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip")
    refused = baton("import", str(bad))
    assert refused.returncode != 0 and "a gzip file that does not decompress" in refused.stderr
