"""Escalate: final status, expired approvals, a complete notification, and an audit record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from controlroom.agents.escalate import ESCALATE
from controlroom.contracts import ApprovalRecord, ApprovalStatus, IncidentStatus, utcnow
from controlroom.policy import TargetFacts, decide_plan, default_engine
from controlroom.runtime import run_agent, stores
from controlroom.settings import load_settings
from tests.unit.test_policy_flow_state import (
    INCIDENT_ID,
    action,
    diagnosis,
    incident,
    intake,
    plan,
    state,
    topic_with_inbox,
)


@pytest.fixture
def opened(aws, monkeypatch):
    assert stores().checkpoint.open_incident(incident(), None).opened
    topic_arn, inbox = topic_with_inbox(aws)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    return inbox


def _approval(approval_id: str, incident_id: str) -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id=approval_id,
        incident_id=incident_id,
        plan_digest="0" * 64,
        created_at=now,
        expires_at=now + timedelta(minutes=50),
    )


def test_policy_deny_escalates_with_everything_the_on_call_needs(opened, lambda_context):
    # Given a plan whose SSM document is off the allow-list, so the policy denied it
    the_plan = plan(
        action("notify_only", "act-1"),
        action("run_ssm_automation", "act-2", document_name="Custom-WipeDatabase"),
    )
    decision = decide_plan(
        the_plan,
        targets={a.action_id: TargetFacts(in_scope=True, tags_read=True) for a in the_plan.actions},
        confidence=0.9,
        engine=default_engine(),
        settings=load_settings({"AUTONOMY_MODE": "supervised", "ENVIRONMENT": "test"}),
    )
    event = state(
        intake=intake(), diagnosis=diagnosis(), plan=the_plan, policy=decision, reason="policy_deny"
    )
    # When Escalate runs
    result = run_agent(ESCALATE, event, lambda_context)
    # Then the incident is ESCALATED and the notification names the reason, the diagnosis,
    # the plan and each action's policy effect with the deciding policy
    assert result["status"] == "ESCALATED" and result["notified"] is True
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.ESCALATED
    (message,) = opened()
    body = message["Message"]
    assert "policy_deny" in message["Subject"]
    assert "recent_change, confidence 0.90" in body
    assert "act-1 notify_only on notification: allow" in body
    assert "act-2 run_ssm_automation on ssm:Custom-WipeDatabase: deny by ssm-document-not-allowlisted" in body
    # And the audit chain records the escalation before the decision record, and verifies
    assert [r.kind for r in stores().audit.records(INCIDENT_ID)] == ["incident_escalated", "decision"]
    assert stores().audit.verify(INCIDENT_ID).ok


def test_quarantine_marks_the_incident_quarantined(opened, lambda_context):
    event = state(intake=intake(), diagnosis=diagnosis(0.2), reason="quarantine")
    result = run_agent(ESCALATE, event, lambda_context)
    assert result["status"] == "QUARANTINED"
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.QUARANTINED


def test_approval_timeout_expires_only_this_incidents_pending_approvals(opened, lambda_context):
    # Given a pending approval for this incident and one for another incident
    checkpoint = stores().checkpoint
    mine, other = "apr-" + "a" * 32, "apr-" + "b" * 32
    checkpoint.put_approval(_approval(mine, INCIDENT_ID), "token-1")
    checkpoint.put_approval(_approval(other, "inc-00000000000000ff"), "token-2")
    event = state(
        intake=intake(),
        plan=plan(),
        reason="approval_timeout",
        error={"Error": "States.Timeout", "Cause": ""},
    )
    # When Escalate runs
    result = run_agent(ESCALATE, event, lambda_context)
    # Then this incident's approval is EXPIRED (a late click cannot resume the flow), the other is untouched
    assert result["expired_approvals"] == [mine]
    assert checkpoint.get_approval(mine).status is ApprovalStatus.EXPIRED
    assert checkpoint.get_approval(other).status is ApprovalStatus.PENDING
    assert "States.Timeout" in opened()[0]["Message"]


def test_without_an_incident_the_error_is_still_notified(opened, lambda_context):
    # Given Intake crashed: no incident, only the Catch's error
    event = {
        "event": {"detail-type": "CloudWatch Alarm State Change"},
        "reason": "error",
        "error": {"Error": "KeyError", "Cause": "'detail' missing from the event"},
    }
    # When Escalate runs
    result = run_agent(ESCALATE, event, lambda_context)
    # Then there is no status to set, but the on-call gets the error name and cause
    assert result["incident_id"] is None and result["status"] is None and result["notified"] is True
    (message,) = opened()
    assert "No incident was opened" in message["Message"]
    assert "KeyError: 'detail' missing from the event" in message["Message"]


def test_sns_refusal_fails_escalate_so_the_ops_alarm_fires(aws, lambda_context, monkeypatch):
    # Given the on-call topic does not exist
    stores().checkpoint.open_incident(incident(), None)
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:gone")
    # When Escalate runs, Then it raises (the flow ends EscalationFailed) after escalating the incident
    with pytest.raises(ClientError, match="NotFound"):
        run_agent(ESCALATE, state(intake=intake(), reason="not_recovered"), lambda_context)
    assert stores().checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.ESCALATED


def test_long_subject_is_truncated_to_the_sns_limit(opened, lambda_context):
    long_name = incident().alarm.model_copy(update={"alarm_name": "x" * 250})
    the_incident = incident().model_copy(update={"alarm": long_name})
    event = state(
        intake={"outcome": "opened", "incident": the_incident.model_dump(mode="json")}, reason="error"
    )
    run_agent(ESCALATE, event, lambda_context)
    (message,) = opened()
    assert len(message["Subject"]) == 100 and message["Subject"].endswith("...")


def test_catch_without_cause_still_escalates(opened, lambda_context):
    # Given a Catch result whose Cause is null (SendTaskFailure without a cause)
    event = state(intake=intake(), reason="error", error={"Error": "ApprovalExpired", "Cause": None})
    # When Escalate runs, Then the on-call still gets the error name
    run_agent(ESCALATE, event, lambda_context)
    assert "ApprovalExpired: (no cause given)" in opened()[0]["Message"]
