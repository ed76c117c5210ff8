"""The judge verifier: a model's score against a threshold, parsed robustly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from baton.config.plugin import BuildContext
from baton.config.registry import kinds
from baton.core.records import AgentResult, Candidate, Usage
from baton.errors import AgentError
from baton.testing import FunctionAgent, ScriptedAgent
from baton.verify.judge import JudgeVerifierConfig, parse_score

VIEW = Candidate(
    item_id="it",
    attempt=1,
    agent="writer",
    objective="Summarise the report in one sentence",
    inputs={"report": "the app crashes on save"},
    text="The app crashes when saving.",
)


def judge(model: FunctionAgent, tmp_path: Path, **kw: object) -> object:
    ctx = BuildContext(base_dir=tmp_path, state_dir=tmp_path / ".baton", agents={"m": model})
    config = {"agent": "m", "rubric": "one faithful sentence", "threshold": 7, **kw}
    return JudgeVerifierConfig(**config).build("judge", ctx)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "score", "reasons"),
    [
        ('{"score": 8, "reasons": "faithful"}', 8, "faithful"),
        ('Sure: {"Rating": "6/10", "explanation": "too long"}', 6, "too long"),
        ('{"score": 7.5}', 7.5, ""),
        ("Score: 9\nIt is one faithful sentence.", 9, None),
        ("**Rating**: 4 out of 5", 8, None),  # rescaled to the judge's scale
        ("I'd give it 3/10.", 3, None),
        ('{"other": 1}\nscore = 2', 2, None),
    ],
)
def test_scores_are_found(answer: str, score: float, reasons: str | None) -> None:
    found = parse_score(answer, 10)
    assert found is not None
    assert found[0] == score
    assert found[1] == (answer.strip() if reasons is None else reasons)


@pytest.mark.parametrize("answer", ["", "great work", '{"score": "high"}', "2 of the 3 are fine"])
def test_no_score_is_none(answer: str) -> None:
    assert parse_score(answer, 10) is None


async def test_passes_at_the_threshold_and_counts_the_judges_tokens(tmp_path: Path) -> None:
    usage = Usage(prompt_tokens=50, completion_tokens=5)
    agent = ScriptedAgent(
        "m",
        [
            AgentResult('{"score": 7, "reasons": "faithful"}', usage=usage),
            AgentResult('{"score": 6, "reasons": "adds a cause"}', usage=usage),
        ],
    )
    verifier = judge(agent, tmp_path)
    passed = await verifier.verify(VIEW)  # type: ignore[attr-defined]
    assert (passed.passed, passed.score, passed.usage) == (True, 7, usage)
    assert passed.evidence == "score 7/10 >= threshold 7: faithful"
    failed = await verifier.verify(VIEW)  # type: ignore[attr-defined]
    assert (failed.passed, failed.evidence) == (False, "score 6/10 < threshold 7: adds a cause")


async def test_the_prompt_and_the_answer_shape_reach_the_judging_agent(tmp_path: Path) -> None:
    agent = ScriptedAgent("m", ['{"score": 3, "reasons": "x"}'])
    await judge(agent, tmp_path, scale=5, threshold=3).verify(VIEW)  # type: ignore[attr-defined]
    task = agent.calls[0]
    assert "The app crashes when saving." in task.objective
    assert "one faithful sentence" in task.objective
    assert "from 0 (does not meet the rubric at all) to 5" in task.objective
    (answer,) = task.acceptance
    assert answer["schema"]["properties"]["score"]["maximum"] == 5


@pytest.mark.parametrize(
    ("outputs", "evidence"),
    [
        (["no idea"], "the judge gave no score: 'no idea'"),
        (['{"score": 14, "reasons": "wow"}'], "the judge's score 14 is outside 0..10: wow"),
        ([AgentError("model timed out")], "the judging agent failed: model timed out"),
    ],
)
async def test_a_judge_that_cannot_score_fails_the_check_with_why(
    tmp_path: Path, outputs: list[object], evidence: str
) -> None:
    result = await judge(ScriptedAgent("m", outputs), tmp_path).verify(VIEW)  # type: ignore[arg-type,attr-defined]
    assert (result.passed, result.evidence) == (False, evidence)


def test_configuration_errors_are_specific(tmp_path: Path) -> None:
    assert kinds("baton.verifiers").found["judge"] is JudgeVerifierConfig
    with pytest.raises(ValueError, match="unknown agent 'nobody' \\(known: m\\)"):
        judge(ScriptedAgent("m", ["x"]), tmp_path, agent="nobody")
    with pytest.raises(ValidationError, match="threshold must be above 0 and at most scale"):
        JudgeVerifierConfig(agent="m", rubric="r", threshold=11)
    with pytest.raises(ValueError, match="cannot read prompt_template"):
        judge(ScriptedAgent("m", ["x"]), tmp_path, prompt_template="missing.txt")


def test_a_judge_cannot_be_an_agent_that_edits_files(tmp_path: Path) -> None:
    from baton.config.loading import load_playbook
    from baton.errors import PlaybookError

    (tmp_path / "p.yaml").write_text(
        "name: x\nagents:\n  coder: {kind: llama, edits: {mode: files}}\n"
        "verifiers:\n  judge: {kind: judge, agent: coder, rubric: good, threshold: 5}\n"
    )
    with pytest.raises(
        PlaybookError, match=r"agent 'coder' edits files .* cannot answer as a judge"
    ):
        load_playbook(tmp_path / "p.yaml")
