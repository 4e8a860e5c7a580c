"""Approval metrics of the catalog: requested, approved, rejected, the pending gauge and both durations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from controlroom.approval.decide import decide
from controlroom.contracts import utcnow
from controlroom.metric_names import (
    APPROVALS_APPROVED,
    APPROVALS_PENDING,
    APPROVALS_REJECTED,
    APPROVALS_REQUESTED,
    TIME_TO_APPROVAL_REQUEST,
    TIME_TO_DECISION,
)
from controlroom.runtime import metrics, stores
from controlroom.runtime.observability import bind_environment
from controlroom.store import DynamoCheckpointStore
from tests.unit import emf
from tests.unit.test_approval_app import _site
from tests.unit.test_approval_support import (
    RecordingSfn,
    configure,
    incident,
    open_incident,
    put_pending,
    request_approval,
)

DIGEST = "p" * 64


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    yield from emf.fresh()


def _alarm_fired_minutes_ago(minutes: int) -> dict:
    """The flow state's intake, with an alarm that fired ``minutes`` ago."""
    the_incident = incident()
    alarm = the_incident.alarm.model_copy(update={"fired_at": utcnow() - timedelta(minutes=minutes)})
    return {
        "incident": the_incident.model_copy(update={"alarm": alarm}).model_dump(mode="json"),
        "outcome": "opened",
    }


def test_request_approval_counts_the_request_its_delay_and_the_pending_gauge(
    aws, monkeypatch, lambda_context, capsys
):
    # Given another approval already pending, and an alarm that fired five minutes ago
    configure(aws, monkeypatch)
    open_incident(aws)
    put_pending()
    started = utcnow()
    # When RequestApproval runs
    request_approval(lambda_context, intake=_alarm_fired_minutes_ago(5))
    elapsed = (utcnow() - started).total_seconds()
    emitted = emf.flush(capsys)
    # Then one request is counted
    assert emitted.values(APPROVALS_REQUESTED) == [1.0]
    # And the seconds from the alarm to the request, in Seconds
    (delay,) = emitted.values(TIME_TO_APPROVAL_REQUEST)
    assert emitted.unit(TIME_TO_APPROVAL_REQUEST) == "Seconds"
    assert 300 <= delay <= 300 + elapsed
    # And the gauge counts both pending approvals
    assert emitted.values(APPROVALS_PENDING) == [2.0]
    emf.assert_dimensions(emitted)


def test_a_failing_gauge_never_fails_the_agent(aws, monkeypatch, lambda_context, capsys):
    # Given a checkpoint store whose pending-approvals query fails
    configure(aws, monkeypatch)
    open_incident(aws)

    def broken(self):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(DynamoCheckpointStore, "pending_approvals", broken)
    # When RequestApproval runs
    output = request_approval(lambda_context)
    # Then the approval was requested and counted; only the gauge is missing
    assert output["approval_id"].startswith("apr-")
    emitted = emf.flush(capsys)
    assert emitted.values(APPROVALS_REQUESTED) == [1.0]
    assert not emitted.has(APPROVALS_PENDING)


def _decide(approval_id: str, approver: str, verdict: str, now=None):
    current = stores()
    return decide(
        current.checkpoint, current.audit, RecordingSfn(), approval_id, approver, verdict, "", DIGEST, now=now
    )


def test_final_approve_counts_approved_time_to_decision_and_the_gauge(aws, capsys):
    # Given a pending approval created now, and another one still pending
    approval_id = put_pending()
    put_pending()
    created_at = stores().checkpoint.get_approval(approval_id).created_at
    # When alice approves 95 seconds later
    _decide(approval_id, "alice@example.com", "approve", now=created_at + timedelta(seconds=95))
    emitted = emf.flush(capsys)
    # Then one approval is counted, with 95 s from request to decision, and one approval still pending
    assert emitted.values(APPROVALS_APPROVED) == [1.0]
    assert not emitted.has(APPROVALS_REJECTED)
    assert emitted.values(TIME_TO_DECISION) == [95.0] and emitted.unit(TIME_TO_DECISION) == "Seconds"
    assert emitted.values(APPROVALS_PENDING) == [1.0]
    emf.assert_dimensions(emitted)


def test_reject_counts_rejected(aws, capsys):
    approval_id = put_pending(required=2)
    created_at = stores().checkpoint.get_approval(approval_id).created_at
    _decide(approval_id, "bob@example.com", "reject", now=created_at + timedelta(seconds=30))
    emitted = emf.flush(capsys)
    assert emitted.values(APPROVALS_REJECTED) == [1.0]
    assert not emitted.has(APPROVALS_APPROVED)
    assert emitted.values(TIME_TO_DECISION) == [30.0]
    assert emitted.values(APPROVALS_PENDING) == [0.0]


def test_a_vote_that_does_not_decide_counts_nothing(aws):
    # Given an approval needing two approvals
    approval_id = put_pending(required=2)
    # When only alice approves
    outcome = _decide(approval_id, "alice@example.com", "approve")
    # Then nothing is final, so no approval metric is emitted
    assert not outcome.decided
    assert metrics.metric_set == {}


def test_the_callback_emits_the_decision_with_its_environment(aws, monkeypatch, lambda_context, capsys):
    # Given a pending approval in the "test" environment, its page opened by alice
    site = _site(aws, monkeypatch, lambda_context)
    fields = site.form_of("alice@example.com")
    metrics.clear_metrics()
    bind_environment("stale")  # as if the process had last run another environment's agent
    capsys.readouterr()
    # When she approves through the Lambda handler (which flushes its metrics)
    response = site.post({**fields, "verdict": "approve", "comment": ""})
    # Then the EMF the handler printed counts the approval, in environment "test" (the POST answers 303)
    assert response["statusCode"] == 303
    (document,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted = emf.Emitted(document)
    assert emitted.values(APPROVALS_APPROVED) == [1.0]
    assert emitted.values(APPROVALS_PENDING) == [0.0]
    assert len(emitted.values(TIME_TO_DECISION)) == 1
    emf.assert_dimensions(emitted, "test")
