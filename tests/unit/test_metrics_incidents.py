"""Incident metrics of the catalog, emitted by the real agents: opened, deduplicated, resolved, escalated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from controlroom.agents.close import CLOSE
from controlroom.agents.escalate import ESCALATE
from controlroom.agents.intake import INTAKE
from controlroom.agents.policy import POLICY
from controlroom.agents.verify import VERIFY
from controlroom.contracts import (
    AlarmSummary,
    ApprovalRecord,
    ExecutionReport,
    IntakeResult,
    VerifyResult,
    utcnow,
)
from controlroom.local.world import restamp
from controlroom.metric_names import (
    APPROVAL_TIMEOUTS,
    APPROVALS_PENDING,
    ESCALATIONS,
    INCIDENTS_DEDUPLICATED,
    INCIDENTS_OPENED,
    INCIDENTS_RESOLVED,
    QUARANTINES,
    TIME_TO_RECOVERY,
)
from controlroom.runtime import run_agent, stores
from tests.unit import emf
from tests.unit.test_policy_flow_state import (
    INCIDENT_ID,
    action,
    diagnosis,
    evidence,
    incident,
    intake,
    plan,
    state,
)

ALARM_EVENT = Path(__file__).resolve().parents[2] / "events" / "alarm_lambda_errors.json"


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    yield from emf.fresh()


@pytest.fixture
def opened(aws):
    assert stores().checkpoint.open_incident(incident(), None).opened
    return aws


def _alarm_state(execution: str = "1") -> dict:
    return {
        "event": restamp(json.loads(ALARM_EVENT.read_text())),
        "execution_arn": f"arn:aws:states:exec:{execution}",
    }


def test_intake_counts_an_opened_incident_then_a_duplicate(aws, lambda_context, capsys):
    # Given the demo alarm event
    # When Intake sees it for the first time
    first = run_agent(INTAKE, _alarm_state(), lambda_context)
    emitted = emf.flush(capsys)
    # Then one incident was opened and counted, with the service and environment dimensions
    assert first["outcome"] == "opened"
    assert emitted.values(INCIDENTS_OPENED) == [1.0] and emitted.unit(INCIDENTS_OPENED) == "Count"
    assert not emitted.has(INCIDENTS_DEDUPLICATED)
    emf.assert_dimensions(emitted, "test")
    # When the same alarm arrives again, in another execution
    second = run_agent(INTAKE, _alarm_state("2"), lambda_context)
    emitted = emf.flush(capsys)
    # Then it is counted as deduplicated, not opened
    assert second["outcome"] == "duplicate"
    assert emitted.values(INCIDENTS_DEDUPLICATED) == [1.0]
    assert not emitted.has(INCIDENTS_OPENED)
    emf.assert_dimensions(emitted, "test")


def test_environment_dimension_follows_the_invocations_environment(aws, lambda_context, capsys, monkeypatch):
    # Given an agent running with ENVIRONMENT=staging (the local engine runs every agent in one process)
    monkeypatch.setenv("ENVIRONMENT", "staging")
    # When Intake opens an incident
    run_agent(INTAKE, _alarm_state(), lambda_context)
    # Then its metrics carry environment=staging, not the value bound at import or by an earlier test
    emitted = emf.flush(capsys)
    assert emitted.values(INCIDENTS_OPENED) == [1.0]
    emf.assert_dimensions(emitted, "staging")


def test_ignored_alarm_state_counts_nothing(aws, lambda_context, capsys):
    event = _alarm_state()
    event["event"]["detail"]["state"]["value"] = "OK"
    assert run_agent(INTAKE, event, lambda_context)["outcome"] == "ignored"
    emitted = emf.flush(capsys)
    assert not emitted.has(INCIDENTS_OPENED) and not emitted.has(INCIDENTS_DEDUPLICATED)


def test_close_counts_resolved_incidents_only(opened, lambda_context, capsys):
    # Given an open incident
    # When Close runs with outcome rejected
    run_agent(CLOSE, state(intake=intake(), plan=plan(), outcome="rejected"), lambda_context)
    # Then nothing is counted as resolved
    assert not emf.flush(capsys).has(INCIDENTS_RESOLVED)
    # When another incident closes resolved
    other = "inc-00000000000000b2"
    stores().checkpoint.open_incident(incident(other), None)
    run_agent(CLOSE, state(intake=intake(other), plan=plan(), outcome="resolved"), lambda_context)
    # Then one resolved incident is counted
    emitted = emf.flush(capsys)
    assert emitted.values(INCIDENTS_RESOLVED) == [1.0]
    emf.assert_dimensions(emitted)


def _pending_approval(approval_id: str) -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id=approval_id,
        incident_id=INCIDENT_ID,
        plan_digest="0" * 64,
        created_at=now,
        expires_at=now + timedelta(minutes=50),
    )


def test_escalate_counts_the_escalation_but_no_timeout_for_other_reasons(opened, lambda_context, capsys):
    run_agent(ESCALATE, state(intake=intake(), reason="policy_deny"), lambda_context)
    emitted = emf.flush(capsys)
    assert emitted.values(ESCALATIONS) == [1.0]
    assert not emitted.has(APPROVAL_TIMEOUTS)
    assert not emitted.has(APPROVALS_PENDING)  # nothing expired, the gauge did not move
    emf.assert_dimensions(emitted)


def test_approval_timeout_counts_an_escalation_a_timeout_and_the_pending_gauge(
    opened, lambda_context, capsys
):
    # Given the incident's approval, still pending, and another incident's pending approval
    checkpoint = stores().checkpoint
    checkpoint.put_approval(_pending_approval("apr-" + "1" * 32), "token-1")
    other = _pending_approval("apr-" + "2" * 32).model_copy(update={"incident_id": "inc-00000000000000b2"})
    checkpoint.put_approval(other, "token-2")
    # When the flow escalates because nobody decided in time
    result = run_agent(ESCALATE, state(intake=intake(), reason="approval_timeout"), lambda_context)
    # Then it is counted as an escalation and an approval timeout
    emitted = emf.flush(capsys)
    assert result["expired_approvals"] == ["apr-" + "1" * 32]
    assert emitted.values(ESCALATIONS) == [1.0]
    assert emitted.values(APPROVAL_TIMEOUTS) == [1.0]
    # And the pending gauge shows the one approval still waiting (the other incident's)
    assert emitted.values(APPROVALS_PENDING) == [1.0]
    emf.assert_dimensions(emitted)


def test_escalate_without_an_incident_still_counts(aws, lambda_context, capsys):
    run_agent(ESCALATE, {"reason": "error", "error": {"Error": "UnsupportedEvent"}}, lambda_context)
    assert emf.flush(capsys).values(ESCALATIONS) == [1.0]


def test_policy_counts_a_quarantine(aws, lambda_context, capsys):
    # Given a diagnosis below the confidence threshold
    event = state(intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.2), plan=plan())
    # When the Policy agent decides
    decision = run_agent(POLICY, event, lambda_context)
    # Then the plan is quarantined and counted once
    emitted = emf.flush(capsys)
    assert decision["outcome"] == "quarantine"
    assert emitted.values(QUARANTINES) == [1.0]
    emf.assert_dimensions(emitted)


def test_policy_does_not_count_other_outcomes(aws, lambda_context, capsys):
    event = state(
        intake=intake(), evidence=evidence(), diagnosis=diagnosis(0.9), plan=plan(action("notify_only"))
    )
    assert run_agent(POLICY, event, lambda_context)["outcome"] != "quarantine"
    assert not emf.flush(capsys).has(QUARANTINES)


def _verify_state(alarm_state: str, fired_minutes_ago: int, aws) -> tuple[dict, AlarmSummary]:
    """Verify's flow state for an alarm that fired a while ago, and the alarm as the incident knows it."""
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="checkout-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Period=60,
        Statistic="Sum",
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=1,
    )
    cloudwatch.set_alarm_state(AlarmName="checkout-errors", StateValue=alarm_state, StateReason="test")
    the_incident = incident()
    alarm = the_incident.alarm.model_copy(
        update={"fired_at": utcnow() - timedelta(minutes=fired_minutes_ago)}
    )
    the_incident = the_incident.model_copy(update={"alarm": alarm})
    execution = ExecutionReport(
        dry_run=False, plan_digest="0" * 64, results=[], executed_at=utcnow() - timedelta(minutes=3)
    )
    return state(intake=IntakeResult(outcome="opened", incident=the_incident), execution=execution), alarm


def test_verify_emits_time_to_recovery_from_the_alarm(aws, lambda_context, capsys):
    # Given an alarm that fired 7 minutes ago and is OK again
    event, alarm = _verify_state("OK", 7, aws)
    # When Verify observes it
    result = run_agent(VERIFY, event, lambda_context)
    # Then the seconds from the alarm to Verify's check are emitted, in Seconds
    emitted = emf.flush(capsys)
    assert result["recovered"] is True
    expected = (VerifyResult.model_validate(result).checked_at - alarm.fired_at).total_seconds()
    assert emitted.values(TIME_TO_RECOVERY) == [pytest.approx(expected)]
    assert 7 * 60 <= expected < 7 * 60 + 30
    assert emitted.unit(TIME_TO_RECOVERY) == "Seconds"
    emf.assert_dimensions(emitted)


def test_verify_without_recovery_emits_no_time_to_recovery(aws, lambda_context, capsys):
    event, _ = _verify_state("ALARM", 7, aws)
    assert run_agent(VERIFY, event, lambda_context)["recovered"] is False
    assert not emf.flush(capsys).has(TIME_TO_RECOVERY)
