"""parse_review: a reviewer's free-text answer to a decision, or a clear ReviewError."""

from __future__ import annotations

import pytest

from baton.core.vocabulary import Decision
from baton.errors import ReviewError
from baton.review.agent import parse_review

A, RC, R = Decision.APPROVE, Decision.REQUEST_CHANGES, Decision.REJECT


@pytest.mark.parametrize(
    ("answer", "decision", "comments"),
    [
        # JSON, bare or fenced, with any of the accepted keys
        ('{"decision": "approve", "comments": "fine"}', A, "fine"),
        ('  {"decision": "reject", "comment": "wrong file"}\n', R, "wrong file"),
        ('{"verdict": "request_changes", "feedback": "add tests"}', RC, "add tests"),
        ('{"status": "Approved", "reason": "all good"}', A, "all good"),
        ('{"Decision": "REQUEST-CHANGES", "Comments": "x"}', RC, "x"),
        ('{"decision": "changes requested", "comments": "y"}', RC, "y"),
        ('{"decision": "needs changes"}', RC, ""),
        ('{"decision": "approve", "comments": ["a", "b"]}', A, '["a", "b"]'),
        (
            'Sure!\n```json\n{"verdict": "request_changes", "feedback": "add tests"}\n```',
            RC,
            "add tests",
        ),
        (
            'Thinking... I would reject a wrong approach, but here:\n{"decision": "approve"}',
            A,
            "",
        ),
        # a nested object belongs to its parent: its "status" is not a second decision
        ('{"decision": "approve", "details": {"status": "rejected"}}', A, ""),
        # a JSON object without a decision falls back to the text around it
        ('{"score": 3}\nDECISION: reject', R, None),
        # a DECISION / VERDICT line
        ("DECISION: reject\nThe approach is wrong.", R, None),
        ("**Decision**: Approve", A, None),
        ("## Verdict: request changes.\nRename the helper.", RC, None),
        ("Final decision = REQUEST_CHANGES - missing tests", RC, None),
        ("decision: `approve`", A, None),
        # clear keywords
        ("LGTM, ship it", A, None),
        ("Approved.", A, None),
        ("I accept this change.", A, None),
        ("This needs changes before it can go in.", RC, None),
        ("Please revise the second paragraph.", RC, None),
        ("Changes requested: the date format is wrong.", RC, None),
        ("Rejected: it deletes the wrong table.", R, None),
        # negated keywords do not count
        ("I would not approve this yet; it needs changes.", RC, None),
        ("No need to reject it. Approve.", A, None),
        ("Don't reject; please revise the intro.", RC, None),
    ],
)
def test_decisions_are_found(answer: str, decision: Decision, comments: str | None) -> None:
    result = parse_review(answer)
    assert result.decision is decision
    assert result.comments == (answer.strip() if comments is None else comments)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "no decision"),
        ("   \n", "no decision"),
        ("I am not sure.", "no decision"),
        ("asdf qwer 1234 }{ {not json", "no decision"),
        ('{"decision": "maybe", "comments": "hmm"}', "no decision"),
        ("I cannot approve this.", "no decision"),
        ("The acceptance criteria are unclear.", "no decision"),
        ("I approve but also reject this", "conflicting decisions approve, reject"),
        ("LGTM overall, but request changes on the tests.", "conflicting decisions"),
        ('{"decision": "approve"} or maybe {"decision": "reject"}', "conflicting decisions"),
        ("DECISION: approve\nDECISION: reject", "conflicting decisions"),
        # an answer that just echoes the answer format names every decision
        (
            'Answer with {"decision": "approve" | "request_changes" | "reject", "comments": ""}',
            "conflicting decisions",
        ),
    ],
)
def test_missing_or_conflicting_decisions_are_review_errors(answer: str, why: str) -> None:
    with pytest.raises(
        ReviewError, match="could not find a decision in the reviewer's answer"
    ) as e:
        parse_review(answer)
    assert why in str(e.value)


def test_the_error_quotes_a_bounded_snippet() -> None:
    with pytest.raises(ReviewError) as e:
        parse_review("blah " * 10_000)
    assert len(str(e.value)) < 500
    assert "blah" in str(e.value) and "characters cut" in str(e.value)


def test_long_free_text_comments_are_bounded() -> None:
    result = parse_review("Approved. " + "detail " * 5_000)
    assert result.decision is A and len(result.comments) < 4_200
