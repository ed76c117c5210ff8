"""Configuration as people expect it, through the real `baton` command: a project file
(baton.toml or [tool.baton]), flags > environment > file > defaults, global options after
the command too, logging levels and JSON logs, --json outputs, shell completion, and whole
lines when stdout is not a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import baton_env
from tests.integration.test_cli import write_project


def baton_in(
    folder: Path, *args: str, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """`baton ARGS` in `folder` with no BATON_STORE or BATON_USER: the settings decide
    (`env` adds variables; None removes one)."""
    environ = baton_env(folder)
    environ.pop("BATON_STORE")
    environ.pop("BATON_USER")
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [sys.executable, "-m", "baton", *args],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings(folder: Path, *args: str, **kw: object) -> dict[str, tuple[object, str]]:
    out = baton_in(folder, "config", "--json", *args, **kw)  # type: ignore[arg-type]
    assert out.returncode == 0, out.stderr
    return {r["setting"]: (r["value"], r["from"]) for r in json.loads(out.stdout)["settings"]}


def test_flags_over_environment_over_the_project_file_over_defaults(tmp_path: Path) -> None:
    assert settings(tmp_path)["store"] == (".baton/baton.db", "default")
    (tmp_path / "baton.toml").write_text(
        'store = "state/here.db"\nuser = "ann"\nlog_level = "info"\n[run]\nconcurrency = 8\n'
    )
    file = str(tmp_path / "baton.toml")
    got = settings(tmp_path)
    assert got["store"] == (str(tmp_path / "state/here.db"), file)
    assert got["user"] == ("ann", file) and got["log_level"] == ("info", file)
    assert got["run.concurrency"] == (8, file)
    env = {"BATON_STORE": "env.db", "BATON_USER": "bob", "BATON_RUN_CONCURRENCY": "3"}
    got = settings(tmp_path, env=env)
    assert got["store"] == ("env.db", "environment (BATON_STORE)")
    assert got["user"] == ("bob", "environment (BATON_USER)")
    assert got["run.concurrency"] == ("3", "environment (BATON_RUN_CONCURRENCY)")
    got = settings(tmp_path, "--store", "flag.db", "--log-level", "error", env=env)
    assert got["store"] == ("flag.db", "command line")
    assert got["log_level"] == ("error", "command line")

    # the file's store is the one every command uses, from any folder below it
    write_project(tmp_path)
    (tmp_path / "sub").mkdir()
    run = baton_in(tmp_path, "run", "playbook.yaml", "items.jsonl", "--no-live")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "state" / "here.db").is_file()
    status = baton_in(tmp_path / "sub", "status", "--json")
    assert json.loads(status.stdout)["counts"] == {"accepted": 2}
    # and the file's user is who decisions are recorded as
    paused = baton_in(tmp_path, "agents", "pause", "cleaner", "-m", "because")
    assert paused.returncode == 0, paused.stderr
    fleet = baton_in(tmp_path, "events", "--json").stdout.splitlines()
    assert json.loads(fleet[-1])["data"]["by"] == "human:ann"


def test_tool_baton_in_a_parent_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.baton]\nstore = "b.db"\nlog_format = "json"\n'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    got = settings(deep)
    assert got["store"] == (str(tmp_path / "b.db"), str(tmp_path / "pyproject.toml"))
    assert got["log_format"][0] == "json"


def test_global_options_after_the_command_too(tmp_path: Path) -> None:
    write_project(tmp_path)
    run = baton_in(tmp_path, "run", "playbook.yaml", "items.jsonl", "--no-live", "--store", "x.db")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "x.db").is_file() and not (tmp_path / ".baton" / "baton.db").exists()
    status = baton_in(tmp_path, "status", "--store", "x.db", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["counts"] == {"accepted": 2}
    pause = baton_in(tmp_path, "agents", "pause", "cleaner", "--store", "x.db", "--by", "z")
    assert pause.returncode == 0, pause.stderr


def test_a_bad_project_file_names_file_line_and_field_and_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "baton.toml").write_text(
        'store = 5\n\n[run]\nconcurency = 8\n[worker]\nlease = "soon"\n[nope]\nx = 1\n'
    )
    out = baton_in(tmp_path, "status")
    assert out.returncode == 2
    file = tmp_path / "baton.toml"
    lines = out.stderr.splitlines()
    assert lines[0] == f"error: {file}:1: store: expected a string, got 5"
    assert any(
        line.startswith(
            f"{file}:4: run.concurency: unknown option of `baton run` (expected one of: concurrency, fresh,"
        )
        for line in lines
    )
    assert any(
        line.startswith(f"{file}:6: worker.lease: Invalid value for '--lease': 'soon'")
        for line in lines
    )
    assert any(
        line.startswith(f"{file}:7: nope: unknown setting (expected one of: store, user")
        for line in lines
    )
    assert not (tmp_path / ".baton").exists()
    # help and the version still answer
    assert baton_in(tmp_path, "--version").returncode == 0
    assert baton_in(tmp_path, "--help").returncode == 0
    broken = tmp_path / "other"
    broken.mkdir()
    (broken / "baton.toml").write_text("store = \n")
    out = baton_in(broken, "status")
    assert out.returncode == 2 and "baton.toml:1: invalid TOML" in out.stderr


def test_logs_at_a_level_as_text_or_json_lines(tmp_path: Path) -> None:
    write_project(tmp_path)
    out = baton_in(
        tmp_path,
        "--log-level",
        "debug",
        "--log-format",
        "json",
        "run",
        "playbook.yaml",
        "items.jsonl",
        "--no-live",
    )
    assert out.returncode == 0, out.stderr
    entries = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    assert entries and all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert any(e["level"] == "info" and "claims items of names" in e["message"] for e in entries)
    assert any(e["level"] == "debug" and "Delegate(attempt=1" in e["message"] for e in entries)
    quiet = baton_in(tmp_path, "run", "playbook.yaml", "items.jsonl", "--no-live", "--fresh")
    assert "claims items" not in quiet.stderr  # warning is the default level
    text = baton_in(
        tmp_path,
        "run",
        "playbook.yaml",
        "items.jsonl",
        "--no-live",
        "--fresh",
        env={"BATON_LOG_LEVEL": "info"},
    )
    assert any(line.startswith("info: engine ") for line in text.stderr.splitlines())


def test_json_from_run_submit_and_validate(tmp_path: Path) -> None:
    write_project(tmp_path)
    valid = baton_in(tmp_path, "validate", "playbook.yaml", "items.jsonl", "--json")
    assert valid.returncode == 0
    assert json.loads(valid.stdout) == {
        "ok": True,
        "playbook": {
            "name": "names",
            "agents": {"cleaner": "python"},
            "reviewers": {"auto": "policy"},
            "verifiers": ["capitalised"],
            "cascade": ["cleaner"],
        },
        "items": 2,
    }
    (tmp_path / "bad.yaml").write_text("name: bad\nagents:\n  a: {kind: robot}\n")
    invalid = baton_in(tmp_path, "validate", "bad.yaml", "--json")
    assert invalid.returncode == 2
    problems = json.loads(invalid.stdout)["problems"]
    assert problems == [
        {
            "file": "bad.yaml",
            "line": 3,
            "field": "agents.a.kind",
            "message": "unknown agent kind 'robot' (expected one of: command, human, llama, "
            "openai, python)",
        }
    ]
    submitted = baton_in(tmp_path, "submit", "playbook.yaml", "items.jsonl", "--json")
    assert json.loads(submitted.stdout) == [
        {"id": "a", "submitted": True},
        {"id": "b", "submitted": True},
    ]
    run = baton_in(tmp_path, "run", "playbook.yaml", "items.jsonl", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)  # stdout is the one object; the events went to stderr
    assert summary["counts"] == {"accepted": 2}
    assert {i["id"] for i in summary["items"]} == {"a", "b"}
    assert summary["metrics"]["items"]["accepted"] == 2
    assert "ACCEPTED" in run.stderr


def test_shell_completion_scripts(tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        out = baton_in(tmp_path, env={"_BATON_COMPLETE": f"{shell}_source"})
        assert out.returncode == 0 and "_BATON_COMPLETE" in out.stdout, shell
    words = baton_in(
        tmp_path,
        env={"_BATON_COMPLETE": "bash_complete", "COMP_WORDS": "baton ap", "COMP_CWORD": "1"},
    )
    assert {"apply", "approve"} <= {line.split(",")[-1] for line in words.stdout.splitlines()}


def test_lines_are_whole_when_stdout_is_not_a_terminal(tmp_path: Path) -> None:
    write_project(tmp_path)
    long = "clean " + "a very long objective " * 10
    (tmp_path / "items.jsonl").write_text(
        json.dumps({"id": "x" * 60, "objective": long, "inputs": {"name": "ada"}}) + "\n"
    )
    no_width: dict[str, str | None] = {"COLUMNS": None, "LINES": None}  # a file, a pipe
    baton_in(tmp_path, "run", "playbook.yaml", "items.jsonl", "--no-live", env=no_width)
    out = baton_in(tmp_path, "events", env=no_width)
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines and all(line.split()[0].isdigit() for line in lines), "no line was wrapped"
    assert any(len(line) > 100 for line in lines)
