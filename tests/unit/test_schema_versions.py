"""Every read path of stored items: the previous schema_version is read, a newer one refused by name.

A rolling deploy runs old and new functions side by side; each item type is written by its store,
then its schema_version is moved one back (what the previous release wrote) and one forward (what
a newer release will write) and read back through the store's own read path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from controlroom.contracts import ApprovalRecord, DecisionRecord, utcnow
from controlroom.errors import SchemaVersionUnsupported
from controlroom.llm import breaker, budget, recording
from controlroom.llm.breaker import CircuitBreaker
from controlroom.llm.budget import TokenBudget
from controlroom.llm.recording import ExchangeRecorder
from controlroom.store import checkpoint
from controlroom.store.checkpoint import DynamoCheckpointStore
from tests.unit.test_policy_flow_state import INCIDENT_ID, incident

APPROVAL_ID = "apr-" + "1" * 32


@dataclass(frozen=True)
class ItemType:
    """How to write one item type, where it lives, its store's version and how to read it back."""

    name: str
    key: dict[str, str]
    current: int
    write: Callable[[Any], None]
    read: Callable[[Any], Any]


def _store(aws) -> DynamoCheckpointStore:
    return DynamoCheckpointStore(aws.dynamodb.Table(aws.checkpoint_table))


def _step() -> DecisionRecord:
    return DecisionRecord(
        incident_id=INCIDENT_ID,
        agent="diagnose",
        agent_version="1",
        function_version="1",
        step=1,
        status="ok",
        started_at=utcnow(),
        duration_ms=5,
        input_digest="0" * 64,
    )


def _approval() -> ApprovalRecord:
    now = utcnow()
    return ApprovalRecord(
        approval_id=APPROVAL_ID,
        incident_id=INCIDENT_ID,
        plan_digest="0" * 64,
        created_at=now,
        expires_at=now + timedelta(minutes=50),
    )


def _budget(aws) -> TokenBudget:
    return TokenBudget(aws.dynamodb.Table(aws.checkpoint_table), 10_000)


def _breaker(aws) -> CircuitBreaker:
    return CircuitBreaker(
        aws.dynamodb.Table(aws.checkpoint_table), "anthropic", threshold=3, cooldown_seconds=60
    )


def _recorder(aws) -> ExchangeRecorder:
    return ExchangeRecorder(aws.dynamodb.Table(aws.checkpoint_table))


ITEM_TYPES = [
    ItemType(
        "incident",
        {"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "META"},
        checkpoint.SCHEMA_VERSION,
        lambda aws: _store(aws).open_incident(incident(), None),
        lambda aws: _store(aws).get_incident(INCIDENT_ID),
    ),
    ItemType(
        "step",
        {"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "STEP#00001#diagnose"},
        checkpoint.SCHEMA_VERSION,
        lambda aws: _store(aws).put_step(_step()),
        lambda aws: _store(aws).steps(INCIDENT_ID),
    ),
    ItemType(
        "approval",
        {"pk": f"APPROVAL#{APPROVAL_ID}", "sk": "META"},
        checkpoint.SCHEMA_VERSION,
        lambda aws: _store(aws).put_approval(_approval(), "token"),
        lambda aws: _store(aws).get_approval(APPROVAL_ID),
    ),
    ItemType(
        "pending approvals",
        {"pk": f"APPROVAL#{APPROVAL_ID}", "sk": "META"},
        checkpoint.SCHEMA_VERSION,
        lambda aws: _store(aws).put_approval(_approval(), "token"),
        lambda aws: _store(aws).pending_approvals(),
    ),
    ItemType(
        "rejected event",
        {"pk": "REJECTED#abc", "sk": "EVENT"},
        checkpoint.SCHEMA_VERSION,
        lambda aws: _store(aws).put_rejected_event("abc", {"x": 1}, "UnsupportedEvent", "bad"),
        lambda aws: _store(aws).rejected_event("abc"),
    ),
    ItemType(
        "token budget",
        {"pk": f"BUDGET#{INCIDENT_ID}", "sk": "TOKENS"},
        budget.SCHEMA_VERSION,
        lambda aws: _budget(aws).reserve(INCIDENT_ID, 1000),
        lambda aws: _budget(aws).state(INCIDENT_ID),
    ),
    ItemType(
        "breaker",
        {"pk": "BREAKER#anthropic", "sk": "STATE"},
        breaker.SCHEMA_VERSION,
        lambda aws: _breaker(aws).record_failure(),
        lambda aws: _breaker(aws).state(),
    ),
    ItemType(
        "recorded model input",
        {"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "MODELINPUT#diagnose"},
        recording.SCHEMA_VERSION,
        lambda aws: _recorder(aws).put_input(INCIDENT_ID, "diagnose", {"x": 1}),
        lambda aws: _recorder(aws).inputs(INCIDENT_ID),
    ),
]


def _set_version(aws, key: dict[str, str], version: int) -> None:
    aws.dynamodb.Table(aws.checkpoint_table).update_item(
        Key=key, UpdateExpression="SET schema_version = :v", ExpressionAttributeValues={":v": version}
    )


@pytest.mark.parametrize("item_type", ITEM_TYPES, ids=lambda t: t.name)
def test_the_previous_version_is_read(aws, item_type: ItemType):
    # Given an item as the previous release wrote it
    item_type.write(aws)
    _set_version(aws, item_type.key, item_type.current - 1)
    # Then this release reads it
    assert item_type.read(aws)


@pytest.mark.parametrize("item_type", ITEM_TYPES, ids=lambda t: t.name)
def test_a_newer_version_is_refused_by_name(aws, item_type: ItemType):
    # Given an item written by a newer release
    item_type.write(aws)
    _set_version(aws, item_type.key, item_type.current + 1)
    # Then this release refuses to guess at it, naming the item and both versions
    with pytest.raises(SchemaVersionUnsupported, match=f"schema_version {item_type.current + 1}"):
        item_type.read(aws)
