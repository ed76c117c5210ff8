"""The real `baton` command in subprocesses, against a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import ON_EVERY_STORE, Baton, Spawn

CLEANER = """\
def clean(task):
    name = task.inputs["name"]
    fixed = " ".join(part.capitalize() for part in name.split())
    if task.attempt == 1 and "strict" in task.inputs:
        return {"name": name}
    return {"name": fixed}
"""

PLAYBOOK = """\
name: names
agents:
  cleaner:
    kind: python
    function: cleaner:clean
reviewers:
  auto:
    kind: policy
    checks_passed: true
    max_risk: low
    otherwise: human
verifiers:
  capitalised:
    kind: regex
    field: name
    pattern: "^([A-Z][a-z]+ ?)+$"
policy:
  order: [verify, review]
budget:
  attempts: 2
"""


def write_project(folder: Path, playbook: str = PLAYBOOK) -> None:
    (folder / "cleaner.py").write_text(CLEANER)
    (folder / "playbook.yaml").write_text(playbook)
    items = [
        {"id": "a", "objective": "clean a name", "inputs": {"name": "ada lovelace"}},
        {
            "id": "b",
            "objective": "clean a name",
            "inputs": {"name": "alan  turing", "strict": True},
        },
    ]
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))


@ON_EVERY_STORE
def test_run_show_status_metrics_audit(tmp_path: Path, baton: Baton) -> None:
    write_project(tmp_path)
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ACCEPTED" in run.stdout and "a #" in run.stdout

    shown = baton("show", "b", check=True).stdout
    # the first attempt failed its check; its evidence and the feedback are in the timeline
    assert "check capitalised FAILED" in shown
    assert "feedback given to attempt 2" in shown
    assert "given: checks capitalised; 1 feedback point(s); budget left 1 attempt(s)" in shown
    assert "ACCEPTED (attempt 2 by cleaner)" in shown

    status = json.loads(baton("status", "--all", "--json", check=True).stdout)
    assert status["counts"] == {"accepted": 2}

    figures = json.loads(baton("metrics", "--json", check=True).stdout)
    assert figures["items"]["accepted"] == 2

    assert "every hash chain holds" in baton("audit", "verify", check=True).stdout


def test_tampering_is_found_by_audit(tmp_path: Path, baton: Baton) -> None:
    write_project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
    db = sqlite3.connect(tmp_path / ".baton" / "baton.db")
    db.execute("UPDATE events SET data = replace(data, 'ada lovelace', 'mallory') WHERE log = 'a'")
    db.commit()
    db.close()
    audit = baton("audit", "verify")
    assert audit.returncode == 1
    assert "BROKEN: log a at event #1: content does not match its hash" in audit.stdout


def test_malformed_playbook_names_file_line_and_field_and_runs_nothing(
    tmp_path: Path, baton: Baton
) -> None:
    write_project(
        tmp_path,
        PLAYBOOK.replace("attempts: 2", "attempts: 0").replace("kind: regex", "kind: regexp"),
    )
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 2
    assert (
        "playbook.yaml:14: verifiers.capitalised.kind: unknown verifier kind 'regexp'" in run.stderr
    )
    assert (
        "playbook.yaml:20: budget.attempts: Input should be greater than or equal to 1, got 0"
        in run.stderr
    )
    assert not (tmp_path / ".baton" / "baton.db").exists()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "x"}', "items.jsonl:1: objective: required field is missing"),
        (
            '{"objective": "x", "acceptance": ["nope"]}',
            "items.jsonl:1: acceptance[0]: unknown verifier 'nope'",
        ),
        (
            '{"objective": "x", "risk": "extreme"}',
            "items.jsonl:1: risk: Input should be 'low', 'medium' or 'high'",
        ),
        ("{not json", "items.jsonl:1: invalid JSON"),
    ],
)
def test_invalid_items_are_rejected_before_anything_is_submitted(
    tmp_path: Path, baton: Baton, line: str, expected: str
) -> None:
    write_project(tmp_path)
    (tmp_path / "items.jsonl").write_text(line + "\n")
    run = baton("run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 2
    assert expected in run.stderr
    assert not (tmp_path / ".baton" / "baton.db").exists()


@ON_EVERY_STORE
def test_unknown_item_and_wrong_actions_are_clear_errors(tmp_path: Path, baton: Baton) -> None:
    write_project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
    missing = baton("show", "nope")
    assert missing.returncode == 2 and "no item 'nope'" in missing.stderr
    approve = baton("approve", "a")
    assert (
        approve.returncode == 2
        and "item a is accepted; nothing waits for a person" in approve.stderr
    )


HUMAN_GATE = PLAYBOOK  # risk above low goes to a person


@ON_EVERY_STORE
def test_human_gate_from_another_terminal_while_run_keeps_going(
    tmp_path: Path, baton: Baton, spawn: Spawn
) -> None:
    write_project(tmp_path, HUMAN_GATE)
    items = [
        {"id": "low", "objective": "clean", "inputs": {"name": "grace hopper"}},
        {"id": "high", "objective": "clean", "risk": "high", "inputs": {"name": "edsger dijkstra"}},
    ]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    running = spawn("run", "playbook.yaml", "items.jsonl", "--no-live")
    try:
        deadline = time.time() + 30
        inbox: list[dict[str, str]] = []
        while time.time() < deadline:
            proc = baton("inbox", "--json")
            if proc.returncode == 0 and (inbox := json.loads(proc.stdout)):
                break
            time.sleep(0.2)
        assert [(e["item"], e["wait"]) for e in inbox] == [("high", "review")]
        assert running.poll() is None, "run keeps going while the item waits"
        decided = baton("approve", "high", "-m", "looks right", check=True)
        assert "approve recorded for attempt 1 of high" in decided.stdout
        out, err = running.communicate(timeout=30)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, out + err
    shown = baton("show", "high", check=True).stdout
    assert "review by auto (human:tester): approve: looks right" in shown


@ON_EVERY_STORE
def test_human_agent_work_is_delivered_with_submit_result(
    tmp_path: Path, baton: Baton, spawn: Spawn
) -> None:
    (tmp_path / "playbook.yaml").write_text(
        textwrap.dedent(
            """\
            name: by-hand
            agents:
              me:
                kind: human
            verifiers:
              json:
                kind: json_schema
                schema: {type: object, required: [answer]}
            """
        )
    )
    submitted = baton("submit", "playbook.yaml", "--item", "answer the question", check=True)
    item = submitted.stdout.split()[0]
    # submitted and never claimed: queued (not "scoping": no engine has touched it)
    status = json.loads(baton("status", "--json", check=True).stdout)
    assert status["counts"] == {"queued": 1}
    assert [(r["item_id"], r["status"]) for r in status["items"]] == [(item, "queued")]
    resumed = spawn("resume", "--no-live")
    try:
        deadline = time.time() + 30
        while time.time() < deadline and "work" not in baton("inbox").stdout:
            time.sleep(0.2)
        wrong = baton("approve", item)
        assert wrong.returncode == 2 and "submit-result" in wrong.stderr
        (tmp_path / "answer.json").write_text('{"answer": 42}')
        baton("submit-result", item, "answer.json", "--json", check=True)
        out, err = resumed.communicate(timeout=30)
    finally:
        if resumed.poll() is None:
            resumed.kill()
    assert resumed.returncode == 0, out + err
    assert "ACCEPTED (attempt 1 by me)" in baton("show", item, check=True).stdout


@ON_EVERY_STORE
def test_pausing_an_agent_stops_delegation_on_a_running_engine(
    tmp_path: Path, baton: Baton, spawn: Spawn
) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\ndef work(task):\n    time.sleep(0.3)\n    return 'ok'\n"
    )
    (tmp_path / "playbook.yaml").write_text(
        "name: paced\nagents:\n  slow:\n    kind: python\n"
        "    function: slow:work\n    concurrency: 1\n"
    )
    (tmp_path / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"i{n}", "objective": "x"}) + "\n" for n in range(8))
    )
    running = spawn("run", "playbook.yaml", "items.jsonl", "-c", "1", "--no-live")
    try:
        time.sleep(1.0)
        baton("agents", "pause", "slow", "-m", "maintenance", check=True)
        time.sleep(1.5)  # within a second the engine stops; an attempt already running may finish

        def count() -> int:
            return sum(
                1
                for line in baton("events", "--json").stdout.splitlines()
                if '"attempt.started"' in line
            )

        paused_at = count()
        time.sleep(1.5)
        assert count() == paused_at, "no attempt starts while the agent is paused"
        listed = json.loads(baton("agents", "--json", check=True).stdout)
        assert [(a["agent"], a["kind"], a["paused"]) for a in listed] == [("slow", "python", True)]
        assert listed[0]["attempts"] == paused_at
        typo = baton("agents", "pause", "slwo")
        assert (
            typo.returncode == 2
            and "no agent 'slwo' in this store's playbooks (known: slow)" in typo.stderr
        )
        baton("agents", "resume", "slow", check=True)
        out, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, out + err
    assert paused_at < 8


@ON_EVERY_STORE
def test_events_follow_shows_other_processes_events_live(
    tmp_path: Path, baton: Baton, spawn: Spawn
) -> None:
    import threading

    write_project(tmp_path)
    follower = spawn("events", "--follow")
    lines: list[str] = []
    assert follower.stdout is not None
    reader = threading.Thread(
        target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        time.sleep(1.0)
        baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
        deadline = time.time() + 20
        while time.time() < deadline and not any(
            "ACCEPTED (attempt 2 by cleaner)" in line for line in lines
        ):
            time.sleep(0.1)
        seen = "".join(lines)
        assert "b #1 submitted" in seen and "ACCEPTED (attempt 2 by cleaner)" in seen
        assert follower.poll() is None, "it keeps following"
    finally:
        follower.kill()
        follower.wait(10)


def test_reading_commands_do_not_create_a_store(tmp_path: Path, baton: Baton) -> None:
    for args in (("status",), ("inbox",), ("metrics",), ("approve", "x"), ("audit", "verify")):
        proc = baton(*args)
        assert proc.returncode == 2, args
        assert "no baton store at" in proc.stderr and "nothing has run here yet" in proc.stderr
    assert not (tmp_path / ".baton").exists()


STUBBORN = """\
name: stubborn
agents:
  writer:
    kind: python
    function: writer:write
verifiers:
  polite:
    kind: contains
    text: please
budget:
  attempts: 1
"""


@ON_EVERY_STORE
def test_escalation_is_owned_by_a_person_then_reopened_rejected_or_cancelled(
    tmp_path: Path, baton: Baton
) -> None:
    (tmp_path / "writer.py").write_text(
        "def write(task):\n"
        "    notes = ' '.join(f['message'] for f in task.feedback)\n"
        "    return 'please do it' if 'say please' in notes else 'do it'\n"
    )
    (tmp_path / "playbook.yaml").write_text(STUBBORN)
    run = baton(
        "run",
        "playbook.yaml",
        "--item",
        "ask nicely",
        "--item",
        "ask again",
        "--item",
        "third",
        "--no-live",
    )
    assert run.returncode == 3
    ids = [
        row["item_id"]
        for row in json.loads(baton("status", "--all", "--json", check=True).stdout)["items"]
    ]
    assert len(ids) == 3
    first, second, third = ids
    inbox = json.loads(baton("inbox", "--json", check=True).stdout)
    assert {(e["wait"], e["reason"]) for e in inbox} == {
        ("escalation", "attempt budget used: 1 of 1")
    }
    # escalated items are still open for people: `baton status` lists them
    still_open = json.loads(baton("status", "--json", check=True).stdout)["items"]
    assert sorted(r["item_id"] for r in still_open) == sorted(ids)
    assert "escalated" in baton("status", check=True).stdout

    refused = baton("approve", first)
    assert (
        refused.returncode == 2 and "was escalated (attempt budget used: 1 of 1)" in refused.stderr
    )
    no_budget = baton(
        "request-changes", first, "-m", "say please", "--attempts", "1", "--tokens", "0"
    )
    assert no_budget.returncode == 0, no_budget.stderr
    assert f"{first} reopened with 1 more attempt(s)" in no_budget.stdout
    resumed = baton("resume", "--no-live", "--no-wait")
    assert resumed.returncode == 0  # only the reopened item is resumed; escalated ones wait
    shown = baton("show", first, check=True).stdout
    assert "reopened by human:tester" in shown and "ACCEPTED (attempt 2 by writer)" in shown

    baton("reject", second, "-m", "not worth it", check=True)
    baton("cancel", third, "-m", "no longer needed", check=True)
    statuses = {
        row["item_id"]: row["status"]
        for row in json.loads(baton("status", "--all", "--json", check=True).stdout)["items"]
    }
    assert statuses == {first: "accepted", second: "failed", third: "cancelled"}
    again = baton("cancel", third)
    assert again.returncode == 2 and "already cancelled" in again.stderr
    figures = json.loads(baton("metrics", "--json", check=True).stdout)
    assert figures["human_waits"] == 3 and figures["items"]["cancelled"] == 1


@ON_EVERY_STORE
def test_starting_afresh_keeps_a_copy_that_import_brings_back(tmp_path: Path, baton: Baton) -> None:
    write_project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
    again = baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
    assert "2 of 2 items were already submitted: resuming them" in again.stderr
    assert "--fresh starts the store afresh, keeping a copy" in again.stderr

    refused = baton("reset")  # no terminal to ask at, and no --yes: nothing happens
    assert refused.returncode == 2 and "say --yes to confirm" in refused.stderr
    assert len(json.loads(baton("status", "--all", "--json").stdout)["items"]) == 2

    fresh = baton("run", "playbook.yaml", "items.jsonl", "--no-live", "--fresh", check=True)
    assert "already submitted" not in fresh.stderr and "2 items in" in fresh.stdout
    assert "deleted 2 item(s)" in fresh.stderr
    backups = sorted((tmp_path / ".baton" / "backups").glob("history-*.jsonl"))
    assert len(backups) == 1

    gone = baton("reset", "--yes", check=True)
    assert "deleted 2 item(s)" in gone.stderr and "baton import" in gone.stderr
    assert json.loads(baton("status", "--all", "--json", check=True).stdout)["counts"] == {}
    assert "is empty already" in baton("reset", "--yes", check=True).stderr
    second = sorted((tmp_path / ".baton" / "backups").glob("history-*.jsonl"))[-1]
    baton("import", str(second), check=True)  # the last history, back as it was
    statuses = json.loads(baton("status", "--all", "--json", check=True).stdout)["counts"]
    assert statuses == {"accepted": 2}
    assert baton("audit", "verify").returncode == 0


def test_reset_asks_at_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import baton_env

    write_project(tmp_path)
    env = baton_env(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "baton", "run", "playbook.yaml", "items.jsonl", "--no-live"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=True,
    )

    def answer(reply: str) -> tuple[int, str]:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "baton", "reset"],
            cwd=tmp_path,
            env=env,
            stdin=follower,
            stdout=follower,
            stderr=follower,
        )
        os.close(follower)
        seen = b""
        while b"[y/N]" not in seen:
            seen += os.read(leader, 1024)
        os.write(leader, reply.encode() + b"\n")
        proc.wait(timeout=60)
        try:
            while chunk := os.read(leader, 1024):
                seen += chunk
        except OSError:  # the other end closed
            pass
        os.close(leader)
        return proc.returncode, seen.decode(errors="replace")

    code, said = answer("n")
    assert code == 1 and "delete 2 item(s) and" in said and "nothing was deleted" in said
    code, said = answer("y")
    assert code == 0 and "deleted 2 item(s)" in said


@ON_EVERY_STORE
def test_items_of_another_playbook_are_refused_with_what_to_do(
    tmp_path: Path, baton: Baton
) -> None:
    write_project(tmp_path)
    baton("run", "playbook.yaml", "items.jsonl", "--no-live", check=True)
    (tmp_path / "other.yaml").write_text(PLAYBOOK.replace("name: names", "name: other"))
    before = baton("events", "--json", check=True).stdout
    for args in (("run", "--no-live"), ("submit",)):  # run used to wait for ever
        out = baton(args[0], "other.yaml", "items.jsonl", *args[1:], timeout=60)
        assert out.returncode == 2, out.stdout + out.stderr
        assert (
            "error: id: a, b were submitted to playbook 'names', not 'other': nothing was "
            "submitted." in out.stderr
        )
        assert "`baton resume`" in out.stderr and "--fresh" in out.stderr
    assert baton("events", "--json", check=True).stdout == before, "nothing was written"


@ON_EVERY_STORE
def test_pausing_works_before_anything_has_run(baton: Baton) -> None:
    paused = baton("agents", "pause", "writer", "-m", "not until Monday")
    assert paused.returncode == 0, paused.stderr
    assert "agent writer paused" in paused.stdout
    events = [
        json.loads(line) for line in baton("events", "--json", check=True).stdout.splitlines()
    ]
    assert [(e["log"], e["kind"], e["data"]["reason"]) for e in events] == [
        ("fleet", "agent.paused", "not until Monday")
    ]
    stopped = baton("agents", "pause", "writer", "--stop", check=True)
    assert "its running attempts are being stopped" in stopped.stdout


def test_a_module_that_exits_at_import_is_an_error_not_a_silent_success(
    tmp_path: Path, baton: Baton
) -> None:
    (tmp_path / "quits.py").write_text("raise SystemExit(0)\n")
    (tmp_path / "p.yaml").write_text(
        "name: p\nagents:\n  a:\n    kind: python\n    function: quits:work\n"
    )
    for command in (("validate", "p.yaml"), ("run", "p.yaml", "--item", "x", "--no-live")):
        out = baton(*command)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "p.yaml:3: agents.a: cannot import 'quits': it called exit(0)" in out.stderr


@ON_EVERY_STORE
def test_no_item_action_touches_baton_s_own_logs(baton: Baton) -> None:
    baton("agents", "pause", "w", check=True)  # the fleet log exists
    baton("token", "create", "--role", "admin", "--name", "ops", check=True)  # and auth
    for log in ("fleet", "auth"):
        for args in (("cancel", log), ("approve", log), ("reject", log, "-m", "x"), ("show", log)):
            out = baton(*args)
            assert out.returncode == 2 and "is baton's own log" in out.stderr, (args, out.stderr)
    assert json.loads(baton("status", "--all", "--json", check=True).stdout)["items"] == []


def test_status_lists_a_bounded_number_of_open_items_and_counts_the_rest(
    tmp_path: Path, baton: Baton
) -> None:
    """`baton status` once drew every open item (and every escalation): 0.8 s on a store of
    100,000 items with 1,235 of them open, most of it the table."""
    (tmp_path / "playbook.yaml").write_text("name: by-hand\nagents:\n  me:\n    kind: human\n")
    items = [arg for n in range(7) for arg in ("--item", f"question {n}")]
    ids = baton("submit", "playbook.yaml", *items, check=True).stdout.split()[::2]
    shown = baton("status", "--limit", "3", check=True).stdout
    assert [i for i in ids if i in shown] == ids[:3], shown  # the oldest first
    assert "and 4 more: `baton status --limit 0` lists them all" in shown
    everything = baton("status", "--limit", "0", check=True).stdout
    assert all(i in everything for i in ids) and "more:" not in everything
    assert len(json.loads(baton("status", "--json", check=True).stdout)["items"]) == 7
    two = json.loads(baton("status", "--json", "--limit", "2", check=True).stdout)
    assert [r["item_id"] for r in two["items"]] == ids[:2] and two["counts"] == {"queued": 7}
    refused = baton("status", "--limit", "-1")
    assert refused.returncode == 2 and "--limit" in refused.stderr


def test_inbox_lists_the_longest_waiting_and_reads_only_theirs(
    tmp_path: Path, baton: Baton
) -> None:
    """`baton inbox` loaded the log of every item waiting for a person (0.93 s with 1,081
    of them on a 100,000-item store) to draw them all."""
    (tmp_path / "playbook.yaml").write_text("name: by-hand\nagents:\n  me:\n    kind: human\n")
    items = [arg for n in range(4) for arg in ("--item", f"question {n}")]
    ids = baton("submit", "playbook.yaml", *items, check=True).stdout.split()[::2]
    baton("resume", "--no-live", "--no-wait", timeout=60)  # each now waits for its work
    everything = json.loads(baton("inbox", "--json", check=True).stdout)
    assert [e["item"] for e in everything] == ids and {e["wait"] for e in everything} == {"work"}
    two = baton("inbox", "--limit", "2", check=True).stdout
    assert [i for i in ids if i in two] == ids[:2], two
    assert "and more wait: `baton inbox --limit 0` lists them all" in two
    assert all(i in baton("inbox", "--limit", "0", check=True).stdout for i in ids)
    one = json.loads(baton("inbox", "--json", "--limit", "1", check=True).stdout)
    assert [e["item"] for e in one] == ids[:1]
