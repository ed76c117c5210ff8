"""A chat agent with `edits:` changes files in the task's working folder: the context files
in its prompt, its answer written (files) or applied with git (diff), every path kept
inside the folder; a scripted backend over a real git repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from baton.agents.chat import ChatAgent, ChatAgentConfig
from baton.agents.completions import Completion, Message, Sampling
from baton.agents.edits import FILES_SCHEMA, EditsConfig
from baton.core.records import Assignment
from baton.errors import AgentError
from baton.testing import ScriptedBackend
from tests.repos import git, make_repo

CALC = "def average(values):\n    return sum(values) / (len(values) + 1)\n"
FIXED = "def average(values):\n    return sum(values) / len(values)\n"
GOOD_DIFF = """\
Here is the fix:
```diff
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def average(values):
-    return sum(values) / (len(values) + 1)
+    return sum(values) / len(values)
```
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path, {"calc.py": CALC}, "calc with a bug")


def agent(backend: ScriptedBackend, structured: bool = False, **edits: Any) -> ChatAgent:
    config = ChatAgentConfig(kind="x", structured=structured, max_tokens=64, edits=edits)
    return ChatAgent("coder", backend, config)


def task(workdir: Path | None, **kw: Any) -> Assignment:
    fields: dict[str, Any] = {"item_id": "it", "attempt": 1, "objective": "fix average()"}
    return Assignment(**{**fields, **kw}, workdir=workdir)


def files_answer(*files: tuple[str, str]) -> str:
    return json.dumps({"files": [{"path": p, "content": c} for p, c in files]})


async def test_files_mode_writes_the_files_and_holds_a_structured_answer_to_their_shape(
    repo: Path,
) -> None:
    answer = files_answer(("calc.py", FIXED), ("docs/notes.md", "average fixed"))
    backend = ScriptedBackend(Completion(answer, 120, 40, "stop"))
    schema = {"type": "object", "required": ["severity"]}
    acceptance = ({"name": "shape", "kind": "json_schema", "schema": schema},)
    result = await agent(backend, structured=True, context=["calc.py"]).run(
        task(repo, acceptance=acceptance)
    )
    assert backend.calls[0][1].schema == FILES_SCHEMA, "the files' shape, not the item's schema"
    assert (repo / "calc.py").read_text() == FIXED
    assert (repo / "docs" / "notes.md").read_text() == "average fixed"
    assert result.text == "wrote calc.py (2 lines), docs/notes.md (new, 1 line)"
    assert result.files == ("calc.py", "docs/notes.md") and result.data is None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (120, 40)
    assert git(repo, "status", "--porcelain").splitlines() == ["M calc.py", "?? docs/"]


async def test_unstructured_files_mode_sends_no_schema_and_reads_a_fenced_answer(
    repo: Path,
) -> None:
    answer = "Sure:\n```json\n" + files_answer(("calc.py", CALC), ("./new.py", "x = 1\n")) + "\n```"
    backend = ScriptedBackend(Completion(answer, 1, 1))
    result = await agent(backend).run(task(repo))
    assert backend.calls[0][1].schema is None
    assert result.text == "wrote new.py (new, 1 line); left unchanged calc.py"
    assert result.files == ("new.py",)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../evil.py", "'..' leads out of the working folder"),
        ("sub/../../evil.py", "'..' leads out of the working folder"),
        ("/tmp/evil.py", "an absolute path"),
        ("C:\\evil.py", "an absolute path"),
        (".git/hooks/pre-commit", "a path inside .git"),
        ("sub/.GIT/config", "a path inside .git"),
        ("out/evil.py", "leads out of the working folder through a symbolic link"),
        ("", "an empty path"),
    ],
)
async def test_a_path_outside_the_working_folder_is_refused_and_nothing_is_written(
    repo: Path, tmp_path: Path, path: str, why: str
) -> None:
    (repo / "out").symlink_to(tmp_path)
    answer = files_answer(("calc.py", FIXED), (path, "boom"))
    backend = ScriptedBackend(Completion(answer, 9, 9))
    with pytest.raises(AgentError) as e:
        await agent(backend).run(task(repo))
    assert str(e.value) == f"the model may not write {path!r}: " + str(e.value).split(": ", 1)[1]
    assert why in str(e.value)
    assert e.value.usage is not None and e.value.usage.prompt_tokens == 9
    assert (repo / "calc.py").read_text() == CALC, "every path is checked before any write"
    assert not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize(
    ("text", "finish", "message"),
    [
        (
            '{"files": [{"path": "calc.py", "content": "def',
            "length",
            "the model's answer is not the files to write: not valid JSON (Unterminated string "
            "starting at (line 1, column 43)); expected "
            '{"files": [{"path": "...", "content": "..."}]} (the answer was cut off at max_tokens '
            "64: raise max_tokens, or ask for a smaller change); it began: "
            '\'{"files": [{"path": "calc.py", "content": "def\'',
        ),
        (
            '{"file": "calc.py"}',
            "stop",
            'the model\'s answer is not the files to write: the wrong shape: no "files" list',
        ),
        (
            '{"files": [{"path": "calc.py", "content": 3}]}',
            "stop",
            'the wrong shape: file 1 needs a "path" and a "content" (strings)',
        ),
        (
            files_answer(("calc.py", "a"), ("./calc.py", "b")),
            "stop",
            "the model's answer writes calc.py twice",
        ),
    ],
)
async def test_an_answer_that_is_not_files_to_write_fails_with_the_reason_and_usage(
    repo: Path, text: str, finish: str, message: str
) -> None:
    backend = ScriptedBackend(Completion(text, 50, 64, finish))
    with pytest.raises(AgentError) as e:
        await agent(backend).run(task(repo))
    assert message in str(e.value)
    assert e.value.usage is not None and e.value.usage.completion_tokens == 64
    assert (repo / "calc.py").read_text() == CALC


async def test_diff_mode_applies_the_models_diff_with_git(repo: Path) -> None:
    backend = ScriptedBackend(Completion(GOOD_DIFF, 80, 30, "stop"))
    result = await agent(backend, structured=True, mode="diff", context=["*.py"]).run(task(repo))
    assert backend.calls[0][1].schema is None, "a diff has no JSON schema"
    assert (repo / "calc.py").read_text() == FIXED
    assert result.text == "applied the model's diff: calc.py (+1 -1)"
    assert result.files == ("calc.py",)
    assert result.usage.tokens == 110
    assert "unified diff" in backend.prompt and "--- a/calc.py" in backend.prompt


async def test_diff_mode_takes_bare_paths_wrong_hunk_counts_and_new_files(repo: Path) -> None:
    diff = (  # no a/ b/ prefixes, a hunk's counts wrong, no final newline
        "--- calc.py\n+++ calc.py\n@@ -1,9 +1,9 @@\n def average(values):\n"
        "-    return sum(values) / (len(values) + 1)\n+    return sum(values) / len(values)\n"
        "--- /dev/null\n+++ lib/extra.py\n@@ -0,0 +1 @@\n+X = 1"
    )
    backend = ScriptedBackend(Completion(diff, 1, 1))
    result = await agent(backend, mode="diff").run(task(repo))
    assert (repo / "calc.py").read_text() == FIXED
    assert (repo / "lib" / "extra.py").read_text() == "X = 1\n"
    assert result.text == "applied the model's diff: calc.py (+1 -1), lib/extra.py (+1 -0)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "I fixed it by dividing by len(values).",
            "the model's answer is not a diff: no unified diff in it (--- a/FILE, +++ b/FILE, "
            "then @@ hunks); it began: 'I fixed it by dividing by len(values).'",
        ),
        (
            "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def average(values):\n"
            "-    return 0\n+    return 1\n```",
            "the model's diff does not apply: patch failed: calc.py:1; calc.py: patch does not apply",
        ),
        (
            "```diff\n--- a/calc.py\n+++ b/calc.py\nthis is not a hunk\n```",
            "the model's diff does not apply: ",
        ),
        (
            "--- /dev/null\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+boom\n",
            "the model's diff does not apply: invalid path '../evil.py'",
        ),
        (
            "--- a/.git/config\n+++ b/.git/config\n@@ -1 +1 @@\n-x\n+y\n",
            "the model's diff does not apply: invalid path '.git/config'",
        ),
    ],
)
async def test_a_diff_that_is_malformed_or_does_not_apply_fails_with_gits_reason(
    repo: Path, tmp_path: Path, text: str, message: str
) -> None:
    backend = ScriptedBackend(Completion(text, 7, 7))
    with pytest.raises(AgentError) as e:
        await agent(backend, mode="diff").run(task(repo))
    assert str(e.value).startswith(message), str(e.value)
    assert e.value.usage is not None and e.value.usage.tokens == 14
    assert (repo / "calc.py").read_text() == CALC
    assert git(repo, "status", "--porcelain") == ""
    assert not (tmp_path / "evil.py").exists()


async def test_diff_mode_works_in_a_copied_folder_that_is_no_repository(tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "calc.py").write_text(CALC)
    backend = ScriptedBackend(Completion(GOOD_DIFF, 1, 1))
    await agent(backend, mode="diff").run(task(folder))
    assert (folder / "calc.py").read_text() == FIXED


async def test_the_context_files_are_in_the_prompt_within_max_context_bytes(repo: Path) -> None:
    (repo / "test_calc.py").write_text("from calc import average\n")
    (repo / "big.py").write_text("# " + "x" * 200 + "\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (repo / "fence.md").write_text("```python\nprint(1)\n```\n")
    budget = len(CALC) + len("from calc import average\n") + len("```python\nprint(1)\n```\n")
    backend = ScriptedBackend(Completion(files_answer(("calc.py", FIXED)), 1, 1))
    feedback = ({"source": "verifier:tests", "message": "test_average failed: 3.0 != 4"},)
    coder = agent(
        backend,
        context=["test_*.py", "*.py", "logo.png", "fence.md", "missing/*.py", "**/HEAD"],
        max_context_bytes=budget,
    )
    result = await coder.run(task(repo, feedback=feedback, attempt=2))
    system, user = backend.calls[0][0]
    assert system["role"] == "system" and user["role"] == "user"
    prompt = user["content"]
    assert prompt.index("fix average()") < prompt.index("test_average failed: 3.0 != 4")
    assert "File test_calc.py:\n```\nfrom calc import average\n```" in prompt
    assert f"File calc.py:\n```\n{CALC}```" in prompt
    assert "File fence.md:\n````\n```python\nprint(1)\n```\n````" in prompt, "a longer fence"
    assert prompt.index("File test_calc.py") < prompt.index("File calc.py"), "the globs' order"
    assert prompt.count("File test_calc.py") == 1
    assert "File big.py" not in prompt and "x" * 200 not in prompt
    assert "big.py: not shown (203 bytes would pass the limit of" in prompt
    assert "logo.png: not shown (not UTF-8 text)" in prompt
    assert "missing/*.py: no file matches (yet)" in prompt
    assert "**/HEAD: no file matches (yet)" in prompt, "nothing of .git is shown"
    assert prompt.rstrip().endswith("- Files you do not list stay as they are.")
    assert '{"files": [{"path": "test_calc.py", "content": "..."}]}' in prompt
    assert "not shown to the model: " in result.text and "big.py" in result.text


async def test_no_context_says_so(repo: Path) -> None:
    backend = ScriptedBackend(Completion(files_answer(("calc.py", FIXED)), 1, 1))
    await agent(backend).run(task(repo))
    assert "No file of the project folder is shown to you." in backend.prompt
    assert '"path": "path/to/file"' in backend.prompt


async def test_without_a_working_folder_the_agent_fails_before_asking_the_model() -> None:
    backend = ScriptedBackend()
    with pytest.raises(
        AgentError,
        match=r"agent coder edits files \(edits:\), so its task needs "
        r"a working folder: give the playbook workspace\.repo",
    ):
        await agent(backend).run(task(None))
    assert backend.calls == []


@pytest.mark.parametrize(
    ("globs", "message"),
    [
        (["../other/*.py"], "context glob '../other/*.py': '..' leads out of the working folder"),
        ([".git/*"], "context glob '.git/*': a path inside .git"),
        (["/etc/*"], "context glob '/etc/*': an absolute path"),
        (["src/**.py"], "'**' must be a whole path component, as in src/**/*.py"),
    ],
)
def test_context_globs_outside_the_folder_fail_at_load(globs: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as e:
        ChatAgentConfig(kind="x", edits={"context": globs})
    assert message in str(e.value)


def test_edits_are_strict() -> None:
    with pytest.raises(ValidationError, match="mode"):
        EditsConfig(mode="patch")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="extra"):
        ChatAgentConfig(kind="x", edits={"context": [], "contexts": []})


async def test_an_openai_agent_edits_too_and_sends_the_files_shape_as_response_format(
    repo: Path, tmp_path: Path
) -> None:
    from baton.agents.openai import OpenAIAgentConfig, OpenAIBackend
    from baton.config.plugin import BuildContext

    config = OpenAIAgentConfig(
        base_url="http://127.0.0.1:9/v1", model="m", structured=True, edits={"mode": "files"}
    )
    coder = config.build("coder", BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton"))
    assert isinstance(coder.backend, OpenAIBackend)
    http = coder.backend
    bodies: list[dict[str, Any]] = []

    class Spy(ScriptedBackend):  # what would be POSTed, answered without a server
        async def complete(self, messages: list[Message], sampling: Sampling) -> Completion:
            bodies.append(http.body(messages, sampling))
            return await super().complete(messages, sampling)

    coder.backend = Spy(Completion(files_answer(("calc.py", FIXED)), 3, 4))
    result = await coder.run(task(repo))
    assert result.text == "wrote calc.py (2 lines)"
    assert bodies[0]["response_format"]["json_schema"]["schema"] == FILES_SCHEMA
