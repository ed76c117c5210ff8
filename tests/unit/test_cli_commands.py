"""The table of commands (baton.cli.COMMANDS) says what the commands themselves say: where
each is, its one-line help, and that no command is missing from it; `baton --help` from the
table reads exactly as click writes it from the loaded commands."""

from __future__ import annotations

import importlib

import click
import pytest

from baton.cli import COMMANDS, main, settings
from baton.store import opener


def loaded(name: str) -> click.Command:
    command = main.get_command(click.Context(main), name)
    assert command is not None, name
    return command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_names_each_commands_function_and_summary(name: str) -> None:
    module, _, function = COMMANDS[name].target.partition(":")
    command = loaded(name)
    assert getattr(importlib.import_module(f"baton.cli.{module}"), function) is command
    assert COMMANDS[name].help == command.get_short_help_str(limit=10_000)


def test_every_command_is_in_the_table() -> None:
    for entry in COMMANDS.values():
        importlib.import_module(f"baton.cli.{entry.target.partition(':')[0]}")
    assert sorted(main.commands) == sorted(COMMANDS)


@pytest.mark.parametrize("width", [60, 80, 200])
def test_help_from_the_table_reads_as_click_writes_it(width: int) -> None:
    def commands_section(group: click.Group, lazy: bool) -> str:
        formatter = click.HelpFormatter(width=width)
        ctx = click.Context(group)
        if lazy:
            group.format_commands(ctx, formatter)
        else:
            click.Group.format_commands(group, ctx, formatter)
        return formatter.getvalue()

    assert commands_section(main, lazy=True) == commands_section(main, lazy=False)
    fresh = type(main)(lazy=COMMANDS)  # nothing loaded: every row from the table
    assert commands_section(fresh, lazy=True) == commands_section(main, lazy=False)
    assert fresh.commands == {}


def test_the_default_store_is_the_openers() -> None:
    assert settings.DEFAULT_STORE == opener.DEFAULT_STORE
