"""decide(): first decision wins, N-of-M approvals, any reject ends it, the flow is told exactly once."""

from __future__ import annotations

import json
import threading

import pytest

from controlroom.approval.decide import decide
from controlroom.contracts import ApprovalOutcome, ApprovalStatus
from controlroom.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalForbidden,
    ApprovalNotFound,
    ApprovalNotWaiting,
    ApprovalPlanMismatch,
)
from controlroom.runtime import stores
from tests.unit.test_approval_support import (
    INCIDENT_ID,
    TASK_TOKEN,
    RecordingSfn,
    atomic_moto_writes,
    put_pending,
)

DIGEST = "p" * 64


def _decide(sfn, approval_id, approver, verdict="approve", comment="", digest=DIGEST, **kwargs):
    current = stores()
    return decide(
        current.checkpoint, current.audit, sfn, approval_id, approver, verdict, comment, digest, **kwargs
    )


def test_approve_decides_and_resumes_the_flow_once(aws):
    # Given a pending approval needing one approval
    approval_id = put_pending()
    sfn = RecordingSfn()
    # When alice approves
    outcome = _decide(sfn, approval_id, "alice@example.com", comment="go")
    # Then it is DECIDED approve and SendTaskSuccess got an ApprovalOutcome with the plan digest
    assert outcome.decided and outcome.outcome == "approve"
    assert stores().checkpoint.get_approval(approval_id).status is ApprovalStatus.DECIDED
    assert [name for name, _ in sfn.calls] == ["send_task_success"]
    sent = sfn.calls[0][1]
    assert sent["taskToken"] == TASK_TOKEN
    assert ApprovalOutcome.model_validate_json(sent["output"]) == ApprovalOutcome(
        approval_id=approval_id, verdict="approve", approvers=["alice@example.com"], plan_digest=DIGEST
    )
    # And the audit names approver, verdict, comment and plan digest (and never the token)
    decision = next(r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_decision")
    assert decision.actor == "approver:alice@example.com"
    assert {
        k: decision.payload[k] for k in ("approver", "verdict", "comment", "plan_digest", "delivery")
    } == {
        "approver": "alice@example.com",
        "verdict": "approve",
        "comment": "go",
        "plan_digest": DIGEST,
        "delivery": "sent",
    }
    assert TASK_TOKEN not in json.dumps(decision.payload)


def test_reject_fails_the_task_with_approval_rejected(aws):
    approval_id = put_pending()
    sfn = RecordingSfn()
    outcome = _decide(sfn, approval_id, "bob@example.com", verdict="reject", comment="too risky")
    assert outcome.decided and outcome.outcome == "reject"
    assert sfn.calls == [
        (
            "send_task_failure",
            {
                "taskToken": TASK_TOKEN,
                "error": "ApprovalRejected",
                "cause": "rejected by bob@example.com: too risky",
            },
        )
    ]


def test_second_decision_is_already_decided_and_changes_nothing(aws):
    # Given an approval alice already approved
    approval_id = put_pending()
    sfn = RecordingSfn()
    _decide(sfn, approval_id, "alice@example.com")
    # When bob rejects afterwards
    with pytest.raises(ApprovalAlreadyDecided):
        _decide(sfn, approval_id, "bob@example.com", verdict="reject")
    # Then the outcome stays approve and the flow was told once
    assert stores().checkpoint.get_approval(approval_id).outcome == "approve"
    assert len(sfn.calls) == 1


def test_two_of_three_threshold(aws):
    # Given an approval that needs two approvals
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    # When alice approves, Then it is still pending and the flow was not told
    first = _decide(sfn, approval_id, "alice@example.com")
    assert not first.decided and first.approvals_missing == 1 and sfn.calls == []
    # And alice cannot count twice
    with pytest.raises(ApprovalAlreadyDecided):
        _decide(sfn, approval_id, "ALICE@example.com")
    # When bob approves, Then it is decided with both approvers named
    second = _decide(sfn, approval_id, "bob@example.com")
    assert second.decided
    output = ApprovalOutcome.model_validate_json(sfn.calls[0][1]["output"])
    assert output.approvers == ["alice@example.com", "bob@example.com"]


def test_one_reject_ends_a_threshold_approval(aws):
    approval_id = put_pending(required=2)
    sfn = RecordingSfn()
    _decide(sfn, approval_id, "alice@example.com")
    outcome = _decide(sfn, approval_id, "carol@example.com", verdict="reject")
    assert outcome.decided and outcome.outcome == "reject"
    assert [name for name, _ in sfn.calls] == ["send_task_failure"]


def test_approver_not_on_the_list_is_forbidden_unless_trusted_local(aws):
    # Given an approval for the three listed approvers
    approval_id = put_pending()
    sfn = RecordingSfn()
    # When a stranger decides, Then it is forbidden and nothing is told
    with pytest.raises(ApprovalForbidden):
        _decide(sfn, approval_id, "mallory@example.com")
    assert sfn.calls == []
    # When the local CLI decides with the list check explicitly skipped, Then it counts
    outcome = _decide(sfn, approval_id, "cli:ops", enforce_approvers=False)
    assert outcome.decided
    decision = next(r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_decision")
    assert decision.payload["trusted_local"] is True


def test_empty_approver_list_accepts_anyone(aws):
    approval_id = put_pending(approvers=[])
    assert _decide(RecordingSfn(), approval_id, "dave@example.com").decided


def test_other_plan_digest_is_refused(aws):
    approval_id = put_pending()
    sfn = RecordingSfn()
    with pytest.raises(ApprovalPlanMismatch):
        _decide(sfn, approval_id, "alice@example.com", digest="q" * 64)
    assert stores().checkpoint.get_approval(approval_id).status is ApprovalStatus.PENDING and sfn.calls == []


def test_expired_and_unknown_approvals_are_refused(aws):
    expired = put_pending(expires_in=-1)
    with pytest.raises(ApprovalExpired):
        _decide(RecordingSfn(), expired, "alice@example.com")
    with pytest.raises(ApprovalNotFound):
        _decide(RecordingSfn(), "apr-" + "0" * 32, "alice@example.com")


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_execution_no_longer_waiting_is_named(aws, code):
    # Given the execution stopped waiting
    approval_id = put_pending()
    # When alice approves, Then the named error says so and the audit records the failed delivery
    with pytest.raises(ApprovalNotWaiting):
        _decide(RecordingSfn(error_code=code), approval_id, "alice@example.com")
    decision = next(r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_decision")
    assert decision.payload["delivery"] == "not_waiting"


def test_bad_verdict_is_a_value_error(aws):
    approval_id = put_pending()
    with pytest.raises(ValueError):
        _decide(RecordingSfn(), approval_id, "alice@example.com", verdict="maybe")


def test_racing_approve_and_reject_decide_exactly_once(aws, monkeypatch):
    # Given one pending approval and two approvers clicking at the same moment
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending()
    sfn = RecordingSfn()
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def click(approver: str, verdict: str) -> None:
        barrier.wait()
        try:
            results[approver] = _decide(sfn, approval_id, approver, verdict=verdict)
        except ApprovalAlreadyDecided as exc:
            results[approver] = exc

    threads = [
        threading.Thread(target=click, args=("alice@example.com", "approve")),
        threading.Thread(target=click, args=("bob@example.com", "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then exactly one decided, the other saw "already decided", and the flow was told once, consistently
    errors = [r for r in results.values() if isinstance(r, ApprovalAlreadyDecided)]
    assert len(results) == 2 and len(errors) == 1
    record = stores().checkpoint.get_approval(approval_id)
    assert len(sfn.calls) == 1 and len(record.votes) == 1
    expected_call = "send_task_success" if record.outcome == "approve" else "send_task_failure"
    assert sfn.calls[0][0] == expected_call
