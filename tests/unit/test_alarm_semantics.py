"""Alarm semantics Intake honours: suppressed actions, the previous state, INSUFFICIENT_DATA -> ALARM,
composite alarms resolved through their triggering children."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlroom.agents.intake import intake
from controlroom.contracts.flow import IntakeInput

from .test_intake import load, make_ctx

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:flow:one"


def _run(event: dict[str, Any]):
    return intake(IntakeInput(event=event, execution_arn=EXECUTION), make_ctx())


def test_suppressed_actions_are_ignored_with_the_reason(aws):
    # Given the real payload's fields for an alarm held back by its suppressor alarm
    event = load("alarm_lambda_errors.json")
    event["detail"]["state"]["actionsSuppressedBy"] = "WaitPeriod"
    event["detail"]["state"]["actionsSuppressedReason"] = "Actions suppressed by WaitPeriod"
    result = _run(event)
    assert result.outcome == "ignored"
    assert "suppressed by WaitPeriod" in result.reason and "Actions suppressed by WaitPeriod" in result.reason


def test_previous_state_is_recorded_on_the_incident(aws):
    result = _run(load("alarm_lambda_errors.json"))
    assert result.outcome == "opened"
    assert result.incident.alarm.previous_state == "OK"


def _from_insufficient_data() -> dict[str, Any]:
    event = load("alarm_lambda_errors.json")
    event["detail"]["previousState"]["value"] = "INSUFFICIENT_DATA"
    return event


def test_insufficient_data_to_alarm_opens_an_incident_by_default(aws):
    result = _run(_from_insufficient_data())
    assert result.outcome == "opened" and result.incident.alarm.previous_state == "INSUFFICIENT_DATA"


def test_insufficient_data_to_alarm_is_ignored_when_configured(aws, monkeypatch):
    monkeypatch.setenv("ALARM_FROM_INSUFFICIENT_DATA", "ignore")
    result = _run(_from_insufficient_data())
    assert result.outcome == "ignored" and "INSUFFICIENT_DATA" in result.reason


@pytest.fixture
def child_alarm(aws):
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="checkout-api-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[
            {"Name": "FunctionName", "Value": "checkout-api"},
            {"Name": "Resource", "Value": "checkout-api:live"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    return cloudwatch


def test_a_composite_alarm_finds_its_resource_through_the_triggering_child(child_alarm):
    # Given the composite sample: reasonData names checkout-api-errors as the triggering alarm
    result = _run(load("alarm_composite.json"))
    # Then the incident is about the child's function, not an "unknown" resource named after the composite
    resource = result.incident.resource
    assert (resource.kind, resource.name, resource.qualifier) == ("lambda_function", "checkout-api", "live")
    assert result.incident.alarm.triggering_alarms == [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-api-errors"
    ]


def test_a_composite_alarm_without_triggering_alarms_falls_back_to_its_rule(child_alarm):
    event = load("alarm_composite.json")
    event["detail"]["state"]["reasonData"] = json.dumps({})
    assert _run(event).incident.resource.name == "checkout-api"


def test_a_composite_alarm_whose_children_are_unknown_keeps_kind_unknown(aws):
    assert _run(load("alarm_composite.json")).incident.resource.kind == "unknown"
