"""Intake: opens one incident per alarm and resource, folds storms into it, keeps what it rejects."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
from boto3.dynamodb.conditions import Attr

from controlroom.agents.intake import intake
from controlroom.contracts import digest, utcnow
from controlroom.contracts.flow import IntakeInput
from controlroom.errors import UnsupportedEvent
from controlroom.local.world import restamp
from controlroom.runtime import AgentContext, stores
from controlroom.settings import settings as load_settings

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> dict:
    # Timestamped now: Intake rejects alarms far from the present (AlarmClockSkew).
    return restamp(json.loads((ROOT / "events" / name).read_text()))


def make_ctx() -> AgentContext:
    return AgentContext(
        agent="intake", settings=load_settings(), stores=stores(), deadline=utcnow() + timedelta(seconds=60)
    )


def handler_of(agent: str):
    spec = importlib.util.spec_from_file_location(
        f"{agent}_handler", ROOT / "functions" / agent / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def incident_items(aws) -> list[dict]:
    table = aws.dynamodb.Table(aws.checkpoint_table)
    items = table.scan(FilterExpression=Attr("pk").begins_with("INCIDENT#") & Attr("sk").eq("META"))["Items"]
    return items


def test_alarm_opens_an_incident_with_resource_and_deadline(aws):
    # Given the demo alarm event
    request = IntakeInput(event=load("alarm_lambda_errors.json"), execution_arn="arn:aws:states:exec:1")
    ctx = make_ctx()
    # When intake runs
    result = intake(request, ctx)
    # Then an incident is opened for the function's live alias, with the time budget as deadline
    assert result.outcome == "opened"
    incident = result.incident
    assert incident.incident_id.startswith("inc-") and len(incident.incident_id) == 20
    assert (incident.resource.kind, incident.resource.name, incident.resource.qualifier) == (
        "lambda_function",
        "checkout-api",
        "live",
    )
    assert (incident.account, incident.region, incident.environment) == ("123456789012", "us-east-1", "test")
    assert incident.deadline_at - incident.opened_at == timedelta(
        seconds=load_settings().INCIDENT_TIME_BUDGET_SECONDS
    )
    stored = stores().checkpoint.get_incident(incident.incident_id)
    assert stored.incident == incident and stored.execution_arn == "arn:aws:states:exec:1"
    assert ctx.incident_id == incident.incident_id


def test_storm_of_identical_events_opens_exactly_one_incident(aws):
    # Given 100 copies of the same alarm event
    event = load("alarm_lambda_errors.json")
    # When each goes through intake
    results = [intake(IntakeInput(event=event), make_ctx()) for _ in range(100)]
    # Then one opened, 99 folded into it, and the table holds exactly one incident
    opened = [r for r in results if r.outcome == "opened"]
    duplicates = [r for r in results if r.outcome == "duplicate"]
    assert len(opened) == 1 and len(duplicates) == 99
    assert {d.duplicate_of for d in duplicates} == {opened[0].incident.incident_id}
    assert len(incident_items(aws)) == 1


def test_duplicate_decision_lands_on_the_open_incident_chain(aws, lambda_context):
    # Given an open incident for the demo alarm
    handler = handler_of("intake")
    first = handler({"event": load("alarm_lambda_errors.json")}, lambda_context)
    # When the same alarm arrives again
    second = handler({"event": load("alarm_lambda_errors.json")}, lambda_context)
    # Then its decision record is part of the open incident's timeline
    incident_id = first["incident"]["incident_id"]
    assert second == {
        "outcome": "duplicate",
        "incident": None,
        "duplicate_of": incident_id,
        "reason": second["reason"],
    }
    steps = stores().checkpoint.steps(incident_id)
    assert [s.output["outcome"] for s in steps] == ["opened", "duplicate"]
    assert stores().audit.verify(incident_id).ok


def test_other_resource_of_same_alarm_is_a_separate_incident(aws):
    event = load("alarm_lambda_errors.json")
    other = json.loads(json.dumps(event))
    other["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["Resource"] = (
        "checkout-api:canary"
    )
    outcomes = [intake(IntakeInput(event=e), make_ctx()).outcome for e in (event, other)]
    assert outcomes == ["opened", "opened"]


@pytest.mark.parametrize(
    "sample",
    ["alarm_metric_math.json", "alarm_anomaly_band.json", "alarm_composite.json", "alarm_ecs_service.json"],
)
def test_every_shape_opens(aws, sample):
    result = intake(IntakeInput(event=load(sample)), make_ctx())
    assert result.outcome == "opened"


def test_ok_transition_is_ignored_and_opens_nothing(aws):
    result = intake(IntakeInput(event=load("alarm_ok_transition.json")), make_ctx())
    assert result.outcome == "ignored" and result.incident is None
    assert "OK" in result.reason
    assert incident_items(aws) == []


def test_malformed_event_is_rejected_and_kept_verbatim(aws):
    # Given an EC2 state change (not an alarm)
    raw = load("malformed_not_an_alarm.json")
    ctx = make_ctx()
    # When intake sees it
    with pytest.raises(UnsupportedEvent) as caught:
        intake(IntakeInput(event=raw), ctx)
    # Then the error names the problem and the digest, and the raw event can be read back
    event_digest = digest(raw)
    message = str(caught.value)
    assert "detail-type: expected 'CloudWatch Alarm State Change'" in message and event_digest in message
    kept = stores().checkpoint.rejected_event(event_digest)
    assert kept["raw_event"] == raw and kept["error_type"] == "UnsupportedEvent"
    assert ctx.incident_id == "event:" + event_digest[:16]
    assert incident_items(aws) == []


def test_rejection_through_the_handler_records_the_error_on_the_event_chain(aws, lambda_context):
    # Given a garbage event through the Lambda handler
    raw = {"hello": "world"}
    with pytest.raises(UnsupportedEvent):
        handler_of("intake")({"event": raw}, lambda_context)
    # Then the error decision record is on the event's chain, and the chain verifies
    chain = "event:" + digest(raw)[:16]
    steps = stores().checkpoint.steps(chain)
    assert [(s.agent, s.status, s.error_type) for s in steps] == [("intake", "error", "UnsupportedEvent")]
    assert stores().audit.verify(chain).ok


def test_intake_handler_writes_a_verifiable_decision_record(aws, lambda_context):
    output = handler_of("intake")(
        {"event": load("alarm_lambda_errors.json"), "control": {"handoffs": 0}}, lambda_context
    )
    incident_id = output["incident"]["incident_id"]
    steps = stores().checkpoint.steps(incident_id)
    assert len(steps) == 1 and steps[0].agent == "intake" and steps[0].status == "ok"
    assert steps[0].tool_calls[0].tool == "checkpoint.open_incident"
    assert stores().audit.verify(incident_id).ok


def test_a_retried_intake_task_in_the_same_execution_continues_its_own_incident(aws):
    # Given Intake opened an incident in one execution (then its result was lost and the task retried)
    event = load("alarm_lambda_errors.json")
    first = intake(IntakeInput(event=event, execution_arn="arn:aws:states:exec:one"), make_ctx())
    # When the state machine retries the Intake task of that same execution
    retried = intake(IntakeInput(event=event, execution_arn="arn:aws:states:exec:one"), make_ctx())
    # Then it continues the same incident instead of folding the execution into it
    assert (first.outcome, retried.outcome) == ("opened", "opened")
    assert retried.incident == first.incident
    # While another execution for the same alarm folds into it
    other = intake(IntakeInput(event=event, execution_arn="arn:aws:states:exec:two"), make_ctx())
    assert (other.outcome, other.duplicate_of) == ("duplicate", first.incident.incident_id)
