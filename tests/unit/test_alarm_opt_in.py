"""Opt-in by tag: with ALARM_OPT_IN_TAG set, Intake opens incidents only for alarms carrying the tag."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from controlroom.agents.intake import intake
from controlroom.contracts.flow import IntakeInput
from controlroom.errors import TransientDependencyError
from controlroom.tools.alarm_opt_in import alarm_tags, opted_in, parse_opt_in_tag

from .test_intake import incident_items, load, make_ctx


def _alarm(tags: list[dict[str, str]]) -> str:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    event = load("alarm_lambda_errors.json")
    name = event["detail"]["alarmName"]
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=tags,
    )
    return str(cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])


def _event_for(alarm_arn: str) -> dict[str, Any]:
    event = load("alarm_lambda_errors.json")
    event["resources"] = [alarm_arn]
    return event


@pytest.mark.parametrize(
    ("spec", "tags", "expected"),
    [
        ("controlroom:respond=true", {"controlroom:respond": "true"}, True),
        ("controlroom:respond=true", {"controlroom:respond": "false"}, False),
        ("controlroom:respond", {"controlroom:respond": "anything"}, True),
        ("controlroom:respond", {"team": "payments"}, False),
        ("controlroom:respond", None, False),
    ],
)
def test_opt_in_matches_key_or_key_and_value(spec: str, tags: dict[str, str] | None, expected: bool) -> None:
    assert opted_in(tags, spec) is expected


def test_an_opt_in_tag_needs_a_key() -> None:
    with pytest.raises(ValueError, match="no key"):
        parse_opt_in_tag("=true")


def test_tagged_alarm_opens_an_incident(aws, monkeypatch) -> None:
    # Given an environment that opts alarms in by tag, and an alarm that carries it
    monkeypatch.setenv("ALARM_OPT_IN_TAG", "controlroom:respond=true")
    arn = _alarm([{"Key": "controlroom:respond", "Value": "true"}])
    ctx = make_ctx()
    # When Intake sees the alarm fire
    result = intake(IntakeInput(event=_event_for(arn), execution_arn="arn:aws:states:exec:1"), ctx)
    # Then it opens an incident, and the decision record shows the tag lookup
    assert result.outcome == "opened"
    assert [call.tool for call in ctx.tool_calls] == [
        "cloudwatch.list_tags_for_resource",
        "checkpoint.open_incident",
    ]


def test_untagged_alarm_is_ignored_and_opens_nothing(aws, monkeypatch) -> None:
    # Given the same environment and an alarm without the tag
    monkeypatch.setenv("ALARM_OPT_IN_TAG", "controlroom:respond=true")
    arn = _alarm([{"Key": "team", "Value": "payments"}])
    # When Intake sees it fire
    result = intake(IntakeInput(event=_event_for(arn), execution_arn="arn:aws:states:exec:1"), make_ctx())
    # Then the flow ends Ignored with the reason, and no incident exists
    assert result.outcome == "ignored"
    assert "not opted in" in (result.reason or "")
    assert incident_items(aws) == []


def test_without_an_opt_in_tag_intake_does_not_read_tags(aws, monkeypatch) -> None:
    monkeypatch.delenv("ALARM_OPT_IN_TAG", raising=False)
    ctx = make_ctx()
    result = intake(
        IntakeInput(event=load("alarm_lambda_errors.json"), execution_arn="arn:aws:states:exec:1"), ctx
    )
    assert result.outcome == "opened"
    assert [call.tool for call in ctx.tool_calls] == ["checkpoint.open_incident"]


def test_throttled_tag_lookup_is_retried_and_a_deleted_alarm_is_not_opted_in() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:gone"
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("list_tags_for_resource", "Throttling", http_status_code=400)
        with pytest.raises(TransientDependencyError):
            alarm_tags(cloudwatch, arn)
        stub.add_client_error("list_tags_for_resource", "ResourceNotFoundException", http_status_code=404)
        assert alarm_tags(cloudwatch, arn) is None
        stub.add_client_error("list_tags_for_resource", "AccessDenied", http_status_code=403)
        with pytest.raises(ClientError):
            alarm_tags(cloudwatch, arn)
