"""Bad and ignorable events on the local engine: each ends at a defined terminal state, its raw event kept."""

from __future__ import annotations

import json

import pytest

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e


def _rejected_items(client) -> list[dict]:
    items = client.aws("dynamodb").scan(TableName=client.outputs["CheckpointTableName"])["Items"]
    return [item for item in items if item["pk"]["S"].startswith("REJECTED#")]


@pytest.mark.parametrize("raw", [[1, 2], "an alarm", None])
def test_a_non_object_event_started_directly_ends_rejected_and_is_kept(client, raw):
    # Given an execution started with a JSON value that is not an object (a replay, a bad target)
    execution_arn = client.start(raw, name=f"raw-{type(raw).__name__}")
    view = finished(client, execution_arn)
    # Then it ends at EventRejected with the named error, and the raw value is kept verbatim
    assert (view.status, view.terminal_state, view.error) == ("FAILED", "EventRejected", "EventRejected")
    (item,) = _rejected_items(client)
    assert json.loads(item["raw_event"]["S"]) == raw
    assert item["error_type"]["S"] == "UnsupportedEvent"


def test_a_suppressed_alarm_ends_ignored_with_the_reason(client):
    event = alarm_event()
    event["detail"]["state"]["actionsSuppressedBy"] = "Alarm"
    event["detail"]["state"]["actionsSuppressedReason"] = "Alarm checkout-maintenance is in ALARM"
    execution_arn = fire_one(client, event)
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Ignored")
    started = json.loads(client.sfn.describe_execution(executionArn=execution_arn)["input"])
    assert "checkout-maintenance is in ALARM" in started["admission"]["reason"]


def test_an_oversized_event_ends_rejected_and_is_kept_in_full_in_s3(client):
    event = alarm_event()
    event["detail"]["configuration"]["description"] = "x" * 230_000
    execution_arn = fire_one(client, event)
    view = finished(client, execution_arn)
    assert (view.terminal_state, view.error) == ("EventRejected", "EventRejected")
    (item,) = _rejected_items(client)
    assert item["error_type"]["S"] == "EventTooLarge"
    bucket, key = item["raw_event_location"]["S"].removeprefix("s3://").split("/", 1)
    assert bucket == client.outputs["RejectedEventsBucketName"]
    kept = json.loads(client.aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert kept["detail"]["configuration"]["description"] == "x" * 230_000
