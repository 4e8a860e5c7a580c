"""TTL on transient checkpoint items: the breaker state (7 days after each write), rejected events (90 days)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from boto3.dynamodb.conditions import Attr

from controlroom.agents.intake import INTAKE
from controlroom.contracts import digest, utcnow
from controlroom.errors import UnsupportedEvent
from controlroom.llm.breaker import HALF_OPEN, OPEN, CircuitBreaker
from controlroom.local.world import restamp
from controlroom.runtime import run_agent
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE

DAY = 86400
ALARM_EVENT = Path(__file__).resolve().parents[2] / "events" / "alarm_lambda_errors.json"
T0 = 1_800_000_000  # epoch seconds; the fake clock starts here


class FakeClock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(aws):
    return aws.dynamodb.Table(aws.checkpoint_table)


def _breaker_ttl(table) -> int:
    item = table.get_item(Key={"pk": "BREAKER#anthropic:model", "sk": "STATE"}, ConsistentRead=True)["Item"]
    return int(item[CHECKPOINT_TTL_ATTRIBUTE])


def test_every_breaker_write_moves_its_ttl_to_seven_days_later(table):
    # Given a breaker that opens after two failures and cools down for 60 s
    clock = FakeClock()
    breaker = CircuitBreaker(table, "anthropic:model", threshold=2, cooldown_seconds=60, clock=clock)
    # When the first failure is counted
    assert breaker.record_failure() is False
    # Then the state expires 7 days after that write
    assert _breaker_ttl(table) == T0 + 7 * DAY
    # When the second failure, an hour later, opens it
    clock.now += 3600
    assert breaker.record_failure() is True and breaker.state() == OPEN
    assert _breaker_ttl(table) == T0 + 3600 + 7 * DAY
    # When the cool-down has passed and a probe is let through
    clock.now += 61
    assert breaker.allow() is True and breaker.state() == HALF_OPEN
    assert _breaker_ttl(table) == T0 + 3661 + 7 * DAY
    # When the probe succeeds
    clock.now += 5
    breaker.record_success()
    assert _breaker_ttl(table) == T0 + 3666 + 7 * DAY


def test_a_rejected_event_is_kept_for_ninety_days(aws, table, lambda_context):
    # Given an event that is not a CloudWatch alarm state change
    raw_event = {"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2"}
    before = int(utcnow().timestamp())
    # When Intake rejects it
    with pytest.raises(UnsupportedEvent):
        run_agent(INTAKE, {"event": raw_event}, lambda_context)
    after = int(utcnow().timestamp())
    # Then it is kept verbatim, and DynamoDB may delete it 90 days after it was received
    item = table.get_item(Key={"pk": f"REJECTED#{digest(raw_event)}", "sk": "EVENT"})["Item"]
    assert before + 90 * DAY <= int(item[CHECKPOINT_TTL_ATTRIBUTE]) <= after + 90 * DAY


def test_incidents_and_their_steps_never_expire(aws, table, lambda_context):
    # Given an incident Intake opened (its meta item and its first step)
    run_agent(INTAKE, {"event": restamp(json.loads(ALARM_EVENT.read_text()))}, lambda_context)
    # Then none of the incident's items carries the TTL attribute: they are the record
    items = table.scan(FilterExpression=Attr("pk").begins_with("INCIDENT#"))["Items"]
    assert {item["sk"].split("#")[0] for item in items} == {"META", "STEP"}
    assert all(CHECKPOINT_TTL_ATTRIBUTE not in item for item in items)
