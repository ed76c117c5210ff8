"""Presets of the command agent: ready-made configurations of CLI coding agents, shipped as
data (presets.yaml), merged under the playbook's own fields; an unknown one is a precise
load error."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from baton.agents.command import (
    PRESET_NOTES,
    CommandAgent,
    CommandAgentConfig,
    preset_fields,
    presets,
)
from baton.config.loading import load_playbook
from baton.errors import PlaybookError

NAMES = sorted(presets())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *programs: str) -> Path:
    """Stand-in executables in a folder that is the whole PATH (so no real CLI is found)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for program in programs:
        exe = folder / program
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_the_five_cli_coding_agents_are_there() -> None:
    assert NAMES == ["aider", "claude-code", "codex", "gemini", "openhands"]


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_validates_into_a_config(name: str) -> None:
    raw = presets()[name]
    assert set(raw) - PRESET_NOTES <= set(CommandAgentConfig.model_fields)
    config = CommandAgentConfig.model_validate({"kind": "command", "preset": name})
    assert config.preset == name
    assert isinstance(config.command, list) and os.sep not in config.command[0]
    assert config.description and "\n" not in config.description
    assert raw["docs"].startswith("https://")
    # the prompt reaches the program where the preset says it does
    placeholder = {"arg": "{prompt}", "file": "{prompt_file}"}.get(config.prompt_via)
    if placeholder:
        assert any(placeholder in a for a in config.command)
    assert config.output_from == "stdout", "an output file would land in the attempt's change"
    assert config.timeout > 600, "coding agents get longer than the default"
    assert {"PATH", "HOME"} <= set(config.env)
    # secrets are the playbook's to name, never the preset's
    assert config.secrets == []
    assert raw["secret"] not in config.env and raw["secret"] not in config.set_env
    assert all(not v.endswith("_API_KEY") for v in config.env)


def test_fields_given_override_the_preset_whole() -> None:
    preset = preset_fields("claude-code")
    config = CommandAgentConfig.model_validate(
        {
            "kind": "command",
            "preset": "claude-code",
            "secrets": ["ANTHROPIC_API_KEY"],
            "timeout": 1200,
            "env": ["PATH"],
            "description": "my claude",
        }
    )
    assert config.timeout == 1200 and preset["timeout"] != 1200
    assert config.env == ["PATH"], "a list given replaces the preset's, it is not merged"
    assert config.description == "my claude"
    assert config.secrets == ["ANTHROPIC_API_KEY"]
    assert config.command == preset["command"] and config.prompt_via == preset["prompt_via"]

    own = CommandAgentConfig.model_validate(
        {"preset": "aider", "command": ["aider", "--model", "sonnet", "--message", "{prompt}"]}
    )
    assert own.command == ["aider", "--model", "sonnet", "--message", "{prompt}"]
    assert own.prompt_via == "file", "fields not given still come from the preset"


def test_a_config_without_a_preset_is_unchanged() -> None:
    config = CommandAgentConfig(command=["llm"])
    assert config.preset is None and config.timeout == 600 and config.prompt_via == "stdin"


def test_the_presets_are_not_changed_by_a_config() -> None:
    before = preset_fields("codex")["env"][:]
    config = CommandAgentConfig.model_validate({"preset": "codex"})
    config.env.append("EXTRA")
    assert preset_fields("codex")["env"] == before


def test_an_unknown_preset_is_a_precise_load_error(tmp_path: Path) -> None:
    text = """\
    name: pb
    agents:
      claude:
        kind: command
        preset: claude
        secrets: [ANTHROPIC_API_KEY]
    """
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    [problem] = caught.value.problems  # alone: the command it would give is not missing too
    assert problem.file.endswith("pb.yaml")
    assert (problem.line, problem.field) == (5, "agents.claude.preset")
    assert problem.message == (
        "unknown preset 'claude' (known: aider, claude-code, codex, gemini, openhands)"
    )
    assert str(problem).endswith(
        "pb.yaml:5: agents.claude.preset: unknown preset 'claude' (known: aider, claude-code, "
        "codex, gemini, openhands)"
    )


def test_a_preset_that_is_not_a_name_is_a_type_error(tmp_path: Path) -> None:
    text = """\
    name: pb
    agents:
      a: {kind: command, preset: [claude-code]}
    """
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    [problem] = caught.value.problems
    assert problem.field == "agents.a.preset"
    assert "valid string" in problem.message


def test_without_preset_or_command_the_command_is_required(tmp_path: Path) -> None:
    text = """\
    name: pb
    agents:
      a:
        kind: command
        timeout: 30
    """
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    assert [str(p).split("pb.yaml:")[1] for p in caught.value.problems] == [
        "3: agents.a.command: required field is missing"
    ]


def test_a_preset_whose_program_is_missing_says_where_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path(monkeypatch, tmp_path)  # nothing on PATH
    text = """\
    name: pb
    agents:
      claude: {kind: command, preset: claude-code, secrets: [ANTHROPIC_API_KEY]}
    """
    with pytest.raises(PlaybookError) as caught:
        load_playbook(write(tmp_path, text))
    [problem] = caught.value.problems
    assert problem.field == "agents.claude"
    assert problem.message == (
        "command not found: claude (not on PATH); preset claude-code needs it: "
        + presets()["claude-code"]["docs"]
    )


def test_a_preset_agent_loads_and_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path(monkeypatch, tmp_path, "claude", "codex")
    text = """\
    name: pb
    agents:
      claude:
        kind: command
        preset: claude-code
        secrets: [ANTHROPIC_API_KEY]
        timeout: 1200
      codex: {kind: command, preset: codex, secrets: [CODEX_API_KEY]}
    cascade: [claude, codex]
    """
    book = load_playbook(write(tmp_path, text))
    claude = book.agents["claude"].agent
    assert isinstance(claude, CommandAgent)
    assert claude.argv == preset_fields("claude-code")["command"]
    assert claude.config.timeout == 1200
    assert book.agents["claude"].secrets == ("ANTHROPIC_API_KEY",)
    assert book.secret_names == {"ANTHROPIC_API_KEY", "CODEX_API_KEY"}
    codex = book.agents["codex"].agent
    assert isinstance(codex, CommandAgent) and codex.argv[:2] == ["codex", "exec"]
