"""The `baton` command line: run playbooks, watch and inspect items, act as the human in
the loop, manage agents, measure. Every command works on one store (--store).

The group is in app.py; COMMANDS below names every command, the module that defines it
and its one-line help. Only the module of the command that runs is imported (`baton
--help` and `baton --version` import none), so the command starts fast.
"""

from .app import Lazy, main

COMMANDS: dict[str, Lazy] = {
    "agents": Lazy("people:agents_group", "The fleet: each agent's state and load."),
    "apply": Lazy(
        "people:apply_cmd",
        "Apply ITEM's accepted change: onto the repository's working tree (default), onto a "
        "new branch (--branch), or into a patch file (--patch).",
    ),
    "approve": Lazy(
        "people:approve_cmd", "Approve the attempt ITEM waits on; the engine carries on with it."
    ),
    "archive": Lazy(
        "transfer:archive_cmd",
        "Move the logs of items that ended (accepted, failed, cancelled) before a date into a "
        "compressed export file; the store keeps their index rows, heads and figures.",
    ),
    "audit": Lazy("inspect:audit_group", "Check the tamper-evident record."),
    "blob": Lazy(
        "inspect:blob_cmd",
        "Print what an event keeps aside (`baton show` names it: sha256:...), byte for byte.",
    ),
    "cancel": Lazy("people:cancel_cmd", "Cancel ITEM: no further step runs; its record stays."),
    "config": Lazy(
        "inspect:config_cmd",
        "The settings in effect and where each came from: the command line, the environment, "
        "the project file (baton.toml, or [tool.baton] in pyproject.toml), or baton's default.",
    ),
    "demo": Lazy(
        "demo:demo_cmd",
        "Run the demo: the on-device model triages bug reports into records that a JSON schema "
        "and field rules verify, the same model reviews them, and a person approves the "
        "high-risk one.",
    ),
    "doctor": Lazy(
        "doctor:doctor_cmd",
        "Check this machine: Python, baton and its command, the store, git, Redis, the "
        "on-device model (loaded and run), the cores, Chromium.",
    ),
    "events": Lazy(
        "inspect:events_cmd",
        "Print the event log (every process's events; --follow for a live tail).",
    ),
    "export": Lazy(
        "transfer:export_cmd",
        "Write every event of the store as JSON lines, in order (for `baton import`).",
    ),
    "import": Lazy(
        "transfer:import_cmd",
        "Append an export (a file, or - for stdin) to the store, hashes intact.",
    ),
    "inbox": Lazy(
        "inspect:inbox_cmd",
        "What waits for a person, oldest first: reviews to decide, work to do, escalations.",
    ),
    "init": Lazy(
        "init:init_cmd",
        "Write a playbook that works, with its items, schema and checks, into FOLDER (the "
        "current one by default); nothing is overwritten: a file that exists is an error and "
        "nothing is written.",
    ),
    "metrics": Lazy(
        "inspect:metrics_cmd",
        "Throughput, cycle time, first-pass yield, rates, cost: kept as events are committed.",
    ),
    "reject": Lazy(
        "people:reject_cmd",
        "Reject the attempt ITEM waits on (the playbook's on_reject says what follows).",
    ),
    "request-changes": Lazy(
        "people:request_changes_cmd",
        "Send ITEM back for another attempt with your comments (also reopens an escalated item).",
    ),
    "reset": Lazy(
        "transfer:reset_cmd",
        "Start the store afresh: every item and event is deleted, after a copy of the whole "
        "history is written beside the store (`baton import FILE` brings it back).",
    ),
    "resume": Lazy(
        "run:resume_cmd", "Finish every unfinished item in the store (after a crash, say)."
    ),
    "run": Lazy(
        "run:run_cmd",
        "Submit ITEMS to PLAYBOOK and run them to their outcomes, showing each step live.",
    ),
    "serve": Lazy(
        "serve:serve_cmd",
        "The HTTP API and the web dashboard over this store (the one the workers use).",
    ),
    "show": Lazy(
        "inspect:show_cmd",
        "An item's whole timeline: attempts, outputs, checks with evidence, reviews, feedback.",
    ),
    "status": Lazy(
        "inspect:status_cmd",
        "Items by state, and the items still open (escalated ones too: a person owns them).",
    ),
    "submit": Lazy(
        "run:submit_cmd",
        "Record ITEMS for PLAYBOOK without running them (a worker or `baton resume` runs them).",
    ),
    "submit-result": Lazy(
        "people:submit_result_cmd",
        "Deliver the work for ITEM (whose agent is a person) from FILE ('-' for stdin).",
    ),
    "token": Lazy(
        "serve:token_group",
        "API tokens for `baton serve`: roles viewer < reviewer < operator < admin.",
    ),
    "validate": Lazy(
        "run:validate_cmd",
        "Check a playbook (and an items file against it) without running anything.",
    ),
    "worker": Lazy(
        "run:worker_cmd",
        "Work on the items of PLAYBOOKS as they arrive, until stopped (Ctrl-C or SIGTERM).",
    ),
}
"""Every command of `baton`: only the module of the command that runs is imported (and
`baton --help` imports none). A command's help here is its docstring's summary
(tests/unit/test_cli_commands.py holds them equal)."""

main.lazy.update(COMMANDS)

__all__ = ["COMMANDS", "main"]
