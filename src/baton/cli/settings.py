"""Settings from a project file, under the environment, under the command line.

The project file is `baton.toml`, or the `[tool.baton]` table of `pyproject.toml`, in the
current folder or the nearest folder above it that has one (`BATON_CONFIG` names one
outright). Precedence, highest first: a flag on the command line (before or after the
command), the environment (`BATON_STORE`, `BATON_USER`, `BATON_LOG_LEVEL`,
`BATON_LOG_FORMAT`, and `BATON_<COMMAND>_<OPTION>` for any command's option), the project
file, baton's defaults. `baton config` shows every setting with where it came from.

    store = ".baton/baton.db"    # a path is relative to the file's folder; or redis://...
    user = "ann"                 # who decisions are recorded as (--by)
    log_level = "info"           # debug, info, warning (the default), error
    log_format = "json"          # text (the default) or json: one object per line

    [run]                        # a command's option defaults, by the option's name
    concurrency = 8
    [worker]
    lease = 10
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, Problem

FILE_NAME = "baton.toml"
GLOBAL = ("store", "user", "log_level", "log_format")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
DEFAULT_STORE = ".baton/baton.db"
"""store/opener.py's default, written out: importing the opener would load every store
backend (and pydantic) before `baton --help` could answer; a test holds the two equal."""
DEFAULTS: dict[str, str] = {
    "store": DEFAULT_STORE,
    "log_level": "warning",
    "log_format": "text",
}


@dataclass(frozen=True)
class ProjectFile:
    """What a project file says: baton's own settings, and each command's option defaults
    (as click's default_map wants them: by command, then by option name)."""

    path: Path | None
    values: dict[str, str] = field(default_factory=dict)
    commands: dict[str, Any] = field(default_factory=dict)

    def default_map(self) -> dict[str, Any]:
        """The defaults click takes under the environment and the command line."""
        own = {k: v for k, v in self.values.items() if k in ("store", "log_level", "log_format")}
        return {**self.commands, **own}


def find(start: Path) -> Path | None:
    """The project file for `start`: BATON_CONFIG, else the nearest baton.toml or
    pyproject.toml with a [tool.baton] table in `start` or a folder above it."""
    named = os.environ.get("BATON_CONFIG")
    if named:
        return Path(named)
    for folder in (start, *start.parents):
        if (folder / FILE_NAME).is_file():
            return folder / FILE_NAME
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and re.search(
            r"^\[tool\.baton(\.|\])", pyproject.read_text(encoding="utf-8", errors="replace"), re.M
        ):
            return pyproject
    return None


def load(path: Path | None, group: click.Group) -> ProjectFile:
    """Read and check a project file against baton's commands; InputError naming the file,
    line and field of every problem, and nothing is used."""
    if path is None:
        return ProjectFile(None)
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text)
    except FileNotFoundError:
        raise InputError(Problem(str(path), None, "", "no such settings file")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), None, "", f"cannot read: {exc}")) from None
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(at.group(1)) if at else None
        raise InputError(Problem(str(path), line, "", f"invalid TOML: {exc}")) from None
    table: Any = document
    prefix = ""
    if path.name == "pyproject.toml":
        table = document.get("tool", {}).get("baton", {})
        prefix = "tool.baton."
    problems: list[Problem] = []
    values: dict[str, str] = {}
    commands: dict[str, Any] = {}
    where = _Lines(str(path), text)
    names = group.list_commands(click.Context(group))
    for key, value in table.items():
        if key in GLOBAL:
            message = _global_problem(key, value)
            if message:
                problems.append(where.problem(prefix, key, message))
            elif key == "store":
                values[key] = _relative_to(path.parent, str(value))
            else:
                values[key] = str(value)
        elif isinstance(value, dict) and key in names:
            commands[key] = _command_defaults(
                _command(group, key), value, prefix + key, where, problems
            )
        else:
            known = ", ".join([*GLOBAL, *(f"[{c}]" for c in sorted(names))])
            problems.append(
                where.problem(prefix, key, f"unknown setting (expected one of: {known})")
            )
    if problems:
        raise InputError(problems)
    return ProjectFile(path, values, commands)


def _command(group: click.Group, name: str) -> click.Command:
    """One of the group's commands (a table names only these: the others stay unloaded)."""
    found = group.get_command(click.Context(group), name)
    assert found is not None, f"{name} is one of the group's commands"
    return found


def _global_problem(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        return f"expected a string, got {value!r}"
    if key == "log_level" and value not in LOG_LEVELS:
        return f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}"
    if key == "log_format" and value not in LOG_FORMATS:
        return f"expected one of {', '.join(LOG_FORMATS)}, got {value!r}"
    return ""


def _relative_to(folder: Path, store: str) -> str:
    """A store path written in a project file means the path beside that file."""
    if "://" in store or store.startswith("memory:"):
        return store
    path = Path(store).expanduser()
    return str(path if path.is_absolute() else folder / path)


def _command_defaults(
    command: click.Command,
    table: dict[str, Any],
    dotted: str,
    where: _Lines,
    problems: list[Problem],
) -> dict[str, Any]:
    """A command's table as option defaults, each checked as the option would check it."""
    options = {
        name: param
        for param in command.params
        if isinstance(param, click.Option) and param.expose_value and param.name
        for name in {param.name, *(o.lstrip("-").replace("-", "_") for o in param.opts)}
    }
    out: dict[str, Any] = {}
    for key, value in table.items():
        if (
            isinstance(value, dict)
            and isinstance(command, click.Group)
            and key in command.list_commands(click.Context(command))
        ):
            out[key] = _command_defaults(
                _command(command, key), value, f"{dotted}.{key}", where, problems
            )
            continue
        param = options.get(key.replace("-", "_"))
        if param is None or param.name is None:
            known = ", ".join(
                sorted({o.lstrip("-") for p in options.values() for o in p.opts if o[:2] == "--"})
            )
            message = f"unknown option of `baton {command.name}` (expected one of: {known})"
            problems.append(where.problem(f"{dotted}.", key, message))
            continue
        try:
            out[param.name] = param.type_cast_value(click.Context(command), value)
        except click.BadParameter as exc:
            problems.append(where.problem(f"{dotted}.", key, exc.format_message()))
    return out


class _Lines:
    """The line a key is written on (tomllib keeps no positions: found by its text)."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def problem(self, prefix: str, key: str, message: str) -> Problem:
        pattern = re.compile(
            rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=|^\s*\[[^\]]*\b{re.escape(key)}\]"
        )
        line = next((n for n, text in enumerate(self.lines, 1) if pattern.search(text)), None)
        return Problem(self.file, line, prefix + key, message)


def flat(options: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A command's defaults, a subcommand's under its name (agents.pause.message)."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
