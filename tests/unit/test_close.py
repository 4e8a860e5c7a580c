"""Close: final status releases the dedupe lock, the on-call is told, the audit chain records it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controlroom.agents.close import CLOSE
from controlroom.contracts import ExecutionReport, IncidentStatus, VerifyResult, utcnow
from controlroom.runtime import run_agent, stores
from tests.unit.test_policy_flow_state import INCIDENT_ID, incident, intake, plan, state, topic_with_inbox


@pytest.fixture
def opened(aws):
    assert stores().checkpoint.open_incident(incident(), None).opened
    return aws


def _execution(the_plan) -> ExecutionReport:
    return ExecutionReport.model_validate(
        {
            "dry_run": False,
            "plan_digest": the_plan.plan_digest,
            "executed_at": utcnow(),
            "results": [
                {
                    "action_id": "act-1",
                    "action_type": "rollback_lambda_alias",
                    "status": "succeeded",
                    "detail": "alias live moved from 2 to 1",
                }
            ],
        }
    )


def test_resolved_closes_notifies_and_releases_the_lock(opened, lambda_context, monkeypatch):
    # Given an open incident, a topic, and a flow that executed and verified recovery
    topic_arn, inbox = topic_with_inbox(opened)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    the_plan = plan()
    verify = VerifyResult(
        recovered=True, alarm_state="OK", checked_at=utcnow(), detail="0 breaching datapoints"
    )
    event = state(
        intake=intake(), plan=the_plan, execution=_execution(the_plan), verify=verify, outcome="resolved"
    )
    # When Close runs
    result = run_agent(CLOSE, event, lambda_context)
    # Then the incident is RESOLVED, the on-call got a short summary, and the output says so
    assert result["status"] == "RESOLVED" and result["notified"] is True
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.RESOLVED
    (message,) = inbox()
    assert "RESOLVED" in message["Subject"] and "rollback_lambda_alias succeeded" in message["Message"]
    # And the dedupe lock is released: a new alarm on the same key opens a new incident
    again = incident().model_copy(update={"incident_id": "inc-00000000000000b2"})
    assert stores().checkpoint.open_incident(again, None).opened
    # And the audit chain holds incident_closed then the decision record, and verifies
    records = stores().audit.records(INCIDENT_ID)
    assert [r.kind for r in records] == ["incident_closed", "decision"]
    assert stores().audit.verify(INCIDENT_ID).ok


def test_rejected_closes_rejected_with_the_cause(opened, lambda_context, monkeypatch):
    topic_arn, inbox = topic_with_inbox(opened)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    event = state(
        intake=intake(),
        plan=plan(),
        outcome="rejected",
        error={"Error": "ApprovalRejected", "Cause": "rejected by lead@example.com: not now"},
    )
    result = run_agent(CLOSE, event, lambda_context)
    assert result["status"] == "REJECTED"
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.REJECTED
    (message,) = inbox()
    assert "not now" in message["Message"] and "nothing was executed" in message["Message"]


def test_without_topic_nothing_is_sent_and_close_still_succeeds(opened, lambda_context, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", "")
    result = run_agent(CLOSE, state(intake=intake(), outcome="resolved"), lambda_context)
    assert result["notified"] is False and result["status"] == "RESOLVED"


def test_unknown_topic_does_not_fail_close(opened, lambda_context, monkeypatch):
    # Given a topic that does not exist (SNS refuses the publish)
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:gone")
    # When Close runs, Then the incident is still closed and notified is False
    result = run_agent(CLOSE, state(intake=intake(), outcome="resolved"), lambda_context)
    assert result["notified"] is False
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.RESOLVED


def test_remediated_and_verified_after_the_budget_closes_resolved_with_a_late_note(opened, lambda_context):
    # Given an incident whose time budget ran out while its remediation was being verified
    late = incident().model_copy(update={"deadline_at": utcnow() - timedelta(seconds=90)})
    the_plan = plan()
    verify = VerifyResult(recovered=True, alarm_state="OK", checked_at=utcnow(), detail="recovered")
    event = state(
        intake={"outcome": "opened", "incident": late.model_dump(mode="json")},
        plan=the_plan,
        execution=_execution(the_plan),
        verify=verify,
        outcome="resolved",
    )
    # When Close runs, Then the incident is RESOLVED (not escalated as an error), noting it was late
    result = run_agent(CLOSE, event, lambda_context)
    assert result["status"] == "RESOLVED"
    assert "late: closed" in result["summary"]
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.RESOLVED
    (record,) = [r for r in stores().checkpoint.steps(INCIDENT_ID) if r.agent == "close"]
    assert any(note.startswith("late: closed") for note in record.notes)


def test_rejection_without_cause_closes_rejected(opened, lambda_context):
    # Given SendTaskFailure arrived without a cause (moto drops it)
    event = state(intake=intake(), outcome="rejected", error={"Error": "ApprovalRejected", "Cause": None})
    # When Close runs, Then the incident is REJECTED with a generic reason
    result = run_agent(CLOSE, event, lambda_context)
    assert result["status"] == "REJECTED" and "an approver rejected the plan" in result["summary"]
