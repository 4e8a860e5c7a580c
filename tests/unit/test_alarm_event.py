"""Alarm events: every shape CloudWatch sends parses, and maps to the resource an adapter can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controlroom.agents.intake import dedupe_key_of, parse_alarm_event
from controlroom.contracts import AlarmStateChangeEvent, ResourceRef
from controlroom.errors import UnsupportedEvent
from controlroom.resources import alarm_summary_of, resource_from_dimensions, resource_of
from controlroom.tools.evidence_common import parse_aws_timestamp

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("sample", "kind", "resource"),
    [
        (
            "alarm_lambda_errors.json",
            "single_metric",
            ResourceRef(kind="lambda_function", name="checkout-api", qualifier="live"),
        ),
        (
            "alarm_metric_math.json",
            "metric_math",
            ResourceRef(kind="lambda_function", name="checkout-api", qualifier="live"),
        ),
        (
            "alarm_anomaly_band.json",
            "anomaly_detection",
            ResourceRef(kind="ecs_service", name="orders", cluster="prod"),
        ),
        (
            "alarm_ecs_service.json",
            "single_metric",
            ResourceRef(kind="ecs_service", name="orders", cluster="prod"),
        ),
        ("alarm_composite.json", "composite", ResourceRef(kind="unknown", name="checkout-composite")),
    ],
)
def test_every_alarm_shape_parses_and_maps_to_its_resource(sample, kind, resource):
    # Given a sample EventBridge alarm event of one shape
    event = parse_alarm_event(load(sample))
    # Then its kind and resource are recognised
    assert event.kind == kind
    assert resource_of(event) == resource


def test_demo_alarm_summary_keeps_metric_and_fired_at():
    # Given the demo alarm (AWS/Lambda Errors on checkout-api:live)
    summary = alarm_summary_of(parse_alarm_event(load("alarm_lambda_errors.json")))
    # Then the summary names the metric and keeps the exact moment it fired
    assert (summary.namespace, summary.metric_name) == ("AWS/Lambda", "Errors")
    assert summary.dimensions == {"FunctionName": "checkout-api", "Resource": "checkout-api:live"}
    assert summary.fired_at == datetime(2026, 11, 21, 9, 0, 0, 985000, tzinfo=UTC)
    assert [q.id for q in summary.metric_queries] == ["m1"]


def test_metric_math_keeps_every_query_expressions_included():
    summary = alarm_summary_of(parse_alarm_event(load("alarm_metric_math.json")))
    assert [(q.id, q.expression) for q in summary.metric_queries] == [
        ("e1", "100 * errors / invocations"),
        ("errors", None),
        ("invocations", None),
    ]
    # The primary metric is the first metric stat, not the expression
    assert summary.metric_name == "Errors"


def test_composite_alarm_has_rule_and_no_metrics():
    summary = alarm_summary_of(parse_alarm_event(load("alarm_composite.json")))
    assert summary.kind == "composite"
    assert summary.alarm_rule and "checkout-api-errors" in summary.alarm_rule
    assert summary.metric_queries == [] and summary.metric_name is None


@pytest.mark.parametrize(
    ("dimensions", "expected"),
    [
        ({"FunctionName": "f"}, ResourceRef(kind="lambda_function", name="f")),
        (
            {"FunctionName": "f", "Resource": "f:prod"},
            ResourceRef(kind="lambda_function", name="f", qualifier="prod"),
        ),
        ({"FunctionName": "f", "Resource": "g:prod"}, ResourceRef(kind="lambda_function", name="f")),
        ({"ClusterName": "c", "ServiceName": "s"}, ResourceRef(kind="ecs_service", name="s", cluster="c")),
        (
            {"Application": "a", "DeploymentGroup": "g"},
            ResourceRef(kind="codedeploy_group", name="g", application="a"),
        ),
        ({"InstanceId": "i-1"}, None),
        ({"ClusterName": "c"}, None),
    ],
)
def test_dimensions_map_to_resources(dimensions, expected):
    assert resource_from_dimensions(dimensions) == expected


def test_unknown_dimensions_fall_back_to_the_alarm_name():
    # Given an EC2 CPU alarm (no adapter family for instances)
    raw = load("alarm_lambda_errors.json")
    raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {"InstanceId": "i-1"}
    # Then the resource is "unknown", named after the alarm
    assert resource_of(parse_alarm_event(raw)) == ResourceRef(kind="unknown", name="checkout-api-errors")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-10-02T17:04:40.985+0000", datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=UTC)),
        ("2019-10-02T17:04:40Z", datetime(2019, 10, 2, 17, 4, 40, tzinfo=UTC)),
        ("2026-11-21T08:37:23.929783000Z", datetime(2026, 11, 21, 8, 37, 23, 929783, tzinfo=UTC)),
    ],
)
def test_aws_timestamps_parse(text, expected):
    assert parse_aws_timestamp(text) == expected


def test_cloudwatch_offset_without_colon_parses_in_the_event():
    # Given the offset CloudWatch writes ("+0000", no colon) in state.timestamp and time
    raw = load("alarm_lambda_errors.json")
    raw["time"] = "2019-10-02T17:04:40.985+0000"
    event = AlarmStateChangeEvent.model_validate(raw)
    assert event.time == datetime(2019, 10, 2, 17, 4, 40, 985000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (
            lambda raw: raw.update({"detail-type": "EC2 Instance State-change Notification"}),
            "detail-type: expected 'CloudWatch Alarm State Change'",
        ),
        (lambda raw: raw.update({"source": "aws.ec2"}), "source: expected 'aws.cloudwatch'"),
        (lambda raw: raw["detail"].pop("alarmName"), "detail.alarmName"),
        (lambda raw: raw.update({"resources": []}), "resources"),
    ],
)
def test_invalid_events_name_what_is_wrong(mutate, named):
    raw = load("alarm_lambda_errors.json")
    mutate(raw)
    with pytest.raises(UnsupportedEvent, match=named):
        parse_alarm_event(raw)


def test_garbage_is_unsupported():
    with pytest.raises(UnsupportedEvent, match="expected a JSON object"):
        parse_alarm_event(["not", "an", "event"])


def test_dedupe_key_is_per_alarm_and_resource():
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    live = ResourceRef(kind="lambda_function", name="f", qualifier="live")
    canary = ResourceRef(kind="lambda_function", name="f", qualifier="canary")
    assert dedupe_key_of(arn, live) == dedupe_key_of(arn, live)
    assert dedupe_key_of(arn, live) != dedupe_key_of(arn, canary)
    assert dedupe_key_of(arn, live) != dedupe_key_of(arn + "2", live)
