"""Built-in verifiers and the parsing of reviewers' free-text answers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton.config.plugin import BuildContext
from baton.core.records import AwaitHuman, Candidate
from baton.core.vocabulary import Decision
from baton.errors import ReviewError
from baton.review.agent import parse_review
from baton.review.policy import PolicyReviewerConfig
from baton.verify.json_schema import JsonSchemaVerifierConfig
from baton.verify.python import PythonVerifierConfig
from baton.verify.text import ContainsVerifierConfig, RegexVerifierConfig

CTX = BuildContext(base_dir=Path(__file__).parent, state_dir=Path(".baton"))


def view(text: str, data: object = None, **kw: object) -> Candidate:
    fields: dict[str, object] = {"inputs": {}, **kw}
    return Candidate(
        item_id="i", attempt=1, agent="a", objective="o", text=text, data=data, **fields
    )  # type: ignore[arg-type]


SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {"age": {"type": "integer", "minimum": 0}},
}


async def test_json_schema_lists_every_violation() -> None:
    verifier = JsonSchemaVerifierConfig(schema=SCHEMA).build("s", CTX)
    assert (await verifier.verify(view('{"name": "x", "age": 3}'))).passed
    bad = await verifier.verify(view('{"age": -1}'))
    assert not bad.passed
    assert (
        "at $: 'name' is a required property" in bad.evidence
        and "at $.age: -1 is less than the minimum of 0" in bad.evidence
    )


async def test_json_schema_reads_fenced_json_and_reports_non_json() -> None:
    verifier = JsonSchemaVerifierConfig(schema=SCHEMA).build("s", CTX)
    assert (
        await verifier.verify(view('Here it is:\n```json\n{"name": "x", "age": 1}\n```'))
    ).passed
    bad = await verifier.verify(view("no json here"))
    assert not bad.passed and bad.evidence.startswith(
        "output is not valid JSON: Expecting value (line 1, column 1)"
    )


def test_json_schema_config_errors() -> None:
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        JsonSchemaVerifierConfig(schema={"type": "nonsense"}).build("s", CTX)
    with pytest.raises(ValueError, match="exactly one of schema or schema_file"):
        JsonSchemaVerifierConfig()
    with pytest.raises(ValueError, match="no such file"):
        JsonSchemaVerifierConfig(schema_file="missing.json").build("s", CTX)


async def test_regex_and_contains() -> None:
    regex = RegexVerifierConfig(pattern=r"^\d{3}-\d{4}$", field="phone").build("r", CTX)
    assert (await regex.verify(view('{"phone": "555-1234"}'))).passed
    missing = await regex.verify(view('{"tel": "555-1234"}'))
    assert not missing.passed and "no field 'phone'" in missing.evidence
    forbid = RegexVerifierConfig(pattern="TODO", forbid=True, flags=["IGNORECASE"]).build("f", CTX)
    assert not (await forbid.verify(view("a todo left"))).passed
    contains = ContainsVerifierConfig(text=["alpha", "beta"], case_sensitive=False).build("c", CTX)
    result = await contains.verify(view("ALPHA only"))
    assert not result.passed and "missing: 'beta'" in result.evidence
    with pytest.raises(ValueError, match="not a valid regular expression"):
        RegexVerifierConfig(pattern="(").build("r", CTX)


def test_python_verifier_import_errors() -> None:
    with pytest.raises(ValueError, match="cannot import 'no_such_module_xyz'"):
        PythonVerifierConfig(function="no_such_module_xyz:check").build("p", CTX)
    with pytest.raises(ValueError, match="expected 'module:function'"):
        PythonVerifierConfig(function="justaname").build("p", CTX)


async def test_python_verifier_scores_and_thresholds(tmp_path: Path) -> None:
    (tmp_path / "scoring.py").write_text(
        "def length(attempt):\n    return len(attempt.text) / 10\n"
        "async def pair(attempt):\n    return (attempt.text == 'yes', 'it said ' + attempt.text)\n"
    )
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path)
    scored = PythonVerifierConfig(function="scoring:length", threshold=0.5).build("p", ctx)
    high = await scored.verify(view("long enough"))
    assert high.passed and high.score == pytest.approx(1.1)
    low = await scored.verify(view("tiny"))
    assert not low.passed and "score 0.4 < threshold 0.5" in low.evidence
    unset = await PythonVerifierConfig(function="scoring:length").build("p", ctx).verify(view("x"))
    assert not unset.passed and "no threshold is set" in unset.evidence
    paired = await PythonVerifierConfig(function="scoring:pair").build("p", ctx).verify(view("no"))
    assert (paired.passed, paired.evidence) == (False, "it said no")


CHECKS = """
import os
import threading
import time

release = threading.Event()


def verdict(attempt):
    return (attempt.text == "yes", f"checked in {os.getpid()}")


def score(attempt):
    return len(attempt.text) / 10


def stuck(attempt):
    release.wait(30)  # the test releases it
    return True


def sleeper(attempt):
    with open(os.path.join(attempt.inputs["folder"], "started"), "w") as file:
        file.write(str(os.getpid()))
    time.sleep(60)
    with open(os.path.join(attempt.inputs["folder"], "marker"), "w") as file:
        file.write("the side effect")
    return True
"""


def test_python_verifier_timeout_defaults_and_bad_values() -> None:
    config = PythonVerifierConfig(function="m:f")
    assert (config.timeout, config.isolate) == (300.0, "thread")
    with pytest.raises(ValueError, match="greater than 0"):
        PythonVerifierConfig(function="m:f", timeout=-1)
    with pytest.raises(ValueError, match="'thread' or 'process'"):
        PythonVerifierConfig(function="m:f", isolate="subinterpreter")  # type: ignore[arg-type]


async def test_python_verifier_in_a_child_process(tmp_path: Path) -> None:
    (tmp_path / "child_checks.py").write_text(CHECKS)
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path)
    paired = PythonVerifierConfig(function="child_checks:verdict", isolate="process")
    result = await paired.build("p", ctx).verify(view("yes"))
    assert result.passed and result.evidence.startswith("checked in ")
    assert result.evidence != f"checked in {os.getpid()}"
    scored = PythonVerifierConfig(function="child_checks:score", isolate="process", threshold=0.5)
    low = await scored.build("s", ctx).verify(view("tiny"))
    assert not low.passed and low.score == pytest.approx(0.4)


async def test_python_verifier_past_its_timeout_is_a_failed_check(tmp_path: Path) -> None:
    (tmp_path / "late_checks.py").write_text(CHECKS)
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path)
    killed = PythonVerifierConfig(function="late_checks:sleeper", isolate="process", timeout=3)
    result = await killed.build("k", ctx).verify(view("x", inputs={"folder": str(tmp_path)}))
    assert (result.passed, result.evidence) == (
        False,
        "late_checks:sleeper did not return within 3s: its process was killed",
    )
    pid = int((tmp_path / "started").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the child is gone: its side effect can never land
    assert not (tmp_path / "marker").exists()
    threaded = PythonVerifierConfig(function="late_checks:stuck", timeout=0.2).build("t", ctx)
    try:
        left = await threaded.verify(view("x"))
    finally:
        threaded.call.fn.__globals__["release"].set()
    assert not left.passed
    assert left.evidence == (
        "late_checks:stuck did not return within 0.2s: it is still running in its thread: "
        "a thread cannot be interrupted (isolate: process has the function killed)"
    )


@pytest.mark.parametrize(
    ("answer", "decision", "comments"),
    [
        ('{"decision": "approve", "comments": "fine"}', Decision.APPROVE, "fine"),
        (
            'Sure!\n```json\n{"verdict": "request_changes", "feedback": "add tests"}\n```',
            Decision.REQUEST_CHANGES,
            "add tests",
        ),
        ("DECISION: reject\nThe approach is wrong.", Decision.REJECT, None),
        ("**Decision**: Approve", Decision.APPROVE, None),
        ("LGTM, ship it", Decision.APPROVE, None),
        ("This needs changes before it can go in.", Decision.REQUEST_CHANGES, None),
    ],
)
def test_parse_review(answer: str, decision: Decision, comments: str | None) -> None:
    result = parse_review(answer)
    assert result.decision is decision
    if comments is not None:
        assert result.comments == comments


@pytest.mark.parametrize("answer", ["I am not sure.", "I approve but also reject this", ""])
def test_unparseable_review_is_a_clear_error(answer: str) -> None:
    with pytest.raises(ReviewError, match="could not find a decision in the reviewer's answer"):
        parse_review(answer)


async def test_policy_reviewer() -> None:
    reviewer = PolicyReviewerConfig(max_risk="medium").build("p", CTX)
    ok = await reviewer.review(
        view("x", risk="medium", checks=({"verifier": "s", "passed": True},))
    )
    assert not isinstance(ok, AwaitHuman) and ok.decision is Decision.APPROVE
    high = await reviewer.review(
        view("x", risk="high", checks=({"verifier": "s", "passed": True},))
    )
    assert isinstance(high, AwaitHuman) and "risk high is above medium" in high.prompt
    strict = PolicyReviewerConfig(otherwise="request_changes").build("p", CTX)
    failed = await strict.review(view("x", checks=({"verifier": "s", "passed": False},)))
    assert not isinstance(failed, AwaitHuman)
    assert failed.decision is Decision.REQUEST_CHANGES and "check(s) failed: s" in failed.comments
