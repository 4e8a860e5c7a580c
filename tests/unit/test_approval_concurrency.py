"""N of M under concurrency: approvers voting at the same moment all count, the flow is told once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from controlroom.approval.decide import DecisionOutcome, decide
from controlroom.contracts import ApprovalOutcome, ApprovalStatus
from controlroom.errors import ApprovalAlreadyDecided
from controlroom.runtime import stores
from tests.unit.test_approval_support import APPROVERS, RecordingSfn, atomic_moto_writes, put_pending

DIGEST = "p" * 64


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; return each result or raised exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:  # the race's loser's error is the result under test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def _vote(sfn: RecordingSfn, approval_id: str, approver: str, verdict: str = "approve") -> Callable[[], Any]:
    current = stores()
    return lambda: decide(current.checkpoint, current.audit, sfn, approval_id, approver, verdict, "", DIGEST)


@pytest.mark.parametrize("round_", range(6))
def test_two_approvers_at_the_same_moment_both_count(aws, monkeypatch, round_):
    # Given a 2-of-3 approval and DynamoDB's per-item write atomicity (the lock is inside moto only)
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    # When alice and bob approve at the same moment
    results = _race(
        [_vote(sfn, approval_id, "alice@example.com"), _vote(sfn, approval_id, "bob@example.com")]
    )
    # Then neither was refused: both votes count and the approval is decided
    assert all(isinstance(r, DecisionOutcome) for r in results), results
    record = stores().checkpoint.get_approval(approval_id)
    assert sorted(v.approver for v in record.votes) == ["alice@example.com", "bob@example.com"]
    assert record.status is ApprovalStatus.DECIDED and record.outcome == "approve"
    # (the first vote to land was honestly told one more was needed; the second one decided)
    assert sorted(r.decided for r in results) == [False, True]
    # And the flow was told exactly once, naming both approvers
    assert [name for name, _ in sfn.calls] == ["send_task_success"]
    sent = ApprovalOutcome.model_validate_json(sfn.calls[0][1]["output"])
    assert sorted(sent.approvers) == ["alice@example.com", "bob@example.com"]


def test_three_approvers_racing_for_two_approvals_decide_once(aws, monkeypatch):
    # Given a 2-of-3 approval
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    # When all three approve at the same moment
    results = _race([_vote(sfn, approval_id, approver) for approver in APPROVERS])
    # Then the flow was told once; whoever was refused is told it was decided, never "already voted"
    assert len(sfn.calls) == 1
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, ApprovalAlreadyDecided) and "already voted" not in str(r) for r in refused)
    record = stores().checkpoint.get_approval(approval_id)
    assert record.outcome == "approve" and len(record.votes) == 3 - len(refused) >= 2
    told = ApprovalOutcome.model_validate_json(sfn.calls[0][1]["output"]).approvers
    assert set(told) <= {v.approver for v in record.votes} and len(told) >= 2


def test_one_approver_double_clicking_counts_once_and_is_told_so(aws, monkeypatch):
    # Given a 2-of-3 approval
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    # When alice's browser posts twice at the same moment (once with different case)
    results = _race(
        [_vote(sfn, approval_id, "alice@example.com"), _vote(sfn, approval_id, "Alice@Example.com")]
    )
    # Then one vote counts, the other is told she already voted (she did), and nothing is decided
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], ApprovalAlreadyDecided)
    assert "already voted" in str(refused[0])
    record = stores().checkpoint.get_approval(approval_id)
    assert len(record.votes) == 1 and record.status is ApprovalStatus.PENDING and sfn.calls == []


def test_a_reject_racing_the_deciding_approval_is_consistent(aws, monkeypatch):
    # Given a 2-of-3 approval alice already approved
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    _vote(sfn, approval_id, "alice@example.com")()
    # When bob approves while carol rejects
    _race(
        [_vote(sfn, approval_id, "bob@example.com"), _vote(sfn, approval_id, "carol@example.com", "reject")]
    )
    # Then exactly one decision reached the flow, and it is the stored outcome
    record = stores().checkpoint.get_approval(approval_id)
    assert len(sfn.calls) == 1 and record.status is ApprovalStatus.DECIDED
    expected = "send_task_success" if record.outcome == "approve" else "send_task_failure"
    assert sfn.calls[0][0] == expected


def test_an_approval_stored_in_the_previous_format_keeps_its_earlier_votes(aws):
    # Given a 2-of-3 approval written before votes were appended atomically: alice's vote inside `record`
    from datetime import timedelta

    from controlroom.contracts import ApprovalRecord, ApprovalVote, utcnow

    now = utcnow()
    earlier = ApprovalRecord(
        approval_id="apr-" + "b" * 32,
        incident_id="inc-00000000000000a1",
        plan_digest=DIGEST,
        approvers=APPROVERS,
        required_approvals=2,
        created_at=now,
        expires_at=now + timedelta(minutes=10),
        votes=[
            ApprovalVote(approver="alice@example.com", verdict="approve", decided_at=now, plan_digest=DIGEST)
        ],
    )
    table = aws.dynamodb.Table(aws.checkpoint_table)
    table.put_item(
        Item={
            "pk": f"APPROVAL#{earlier.approval_id}",
            "sk": "META",
            "record": earlier.model_dump_json(),
            "status": "PENDING",
            "task_token": "TOKEN",
            "incident_id": earlier.incident_id,
            "gsi1pk": "APPROVALS#PENDING",
            "gsi1sk": "x",
            "schema_version": 1,
        }
    )
    sfn = RecordingSfn()
    # When alice tries again, Then she already voted; when bob approves, Then the two approvals decide it
    with pytest.raises(ApprovalAlreadyDecided, match="already voted"):
        _vote(sfn, earlier.approval_id, "alice@example.com")()
    outcome = _vote(sfn, earlier.approval_id, "bob@example.com")()
    assert outcome.decided and outcome.outcome == "approve" and len(sfn.calls) == 1
    told = ApprovalOutcome.model_validate_json(sfn.calls[0][1]["output"]).approvers
    assert told == ["alice@example.com", "bob@example.com"]
