"""The dedupe lock of an open incident: owned by its execution, leased, released when that execution ends.

Items (checkpoint table):
- ``OPEN#<dedupe_key>/LOCK``: which incident holds the alarm, the ARN of the execution working it, the
  ``event_id`` that took it (only that event's retry resumes; "" for a flow started by hand), and
  ``lease_expires_at`` (epoch seconds). A lock whose lease has passed is taken over by the next alarm, so
  no alarm stays silenced even if nothing ever releases it.
- ``EXECUTION#<execution_arn>/INCIDENT``: which incident an execution works, for the status-change
  handler that releases the lock of an execution that FAILED, TIMED_OUT or was ABORTED.
- ``INCIDENT#<id>/META`` gains ``execution_state`` (STARTING, RUNNING, or how the execution ended) and
  ``duplicates`` (events folded into it, an atomic ADD).
"""

# No ``from __future__ import annotations``: pydantic would compile and evaluate every field's string.
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from controlroom.contracts import IncidentRef, IncidentStatus, isoformat, utcnow
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE, is_conditional_failure

# The execution states a duplicate can find its incident in; anything else means nobody works it.
STARTING, RUNNING = "STARTING", "RUNNING"
# Intake has this long to start the execution after taking the lock (its own retries included).
START_LEASE_SECONDS = 300
# Kept a day past the lease for diagnosis of a lost release, then DynamoDB's TTL removes the lock.
_LOCK_TTL_MARGIN_SECONDS = 86400


class OpenResult(BaseModel):
    """What opening an incident found: a new lock, the caller's own lock again, or someone else's."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    opened: bool
    incident_id: str
    resumed: bool = False
    # The caller's own incident exists but no longer holds the lock: a replay of an event already handled.
    replayed: bool = False


class DuplicateCount(BaseModel):
    """A duplicate folded into an incident: the count so far and whether an execution still works it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    incident_id: str
    duplicates: int
    execution_running: bool
    execution_state: str = ""


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def lock_key(dedupe_key: str) -> dict[str, str]:
    return {"pk": f"OPEN#{dedupe_key}", "sk": "LOCK"}


def execution_key(execution_arn: str) -> dict[str, str]:
    return {"pk": f"EXECUTION#{execution_arn}", "sk": "INCIDENT"}


def open_incident(
    table: Any,
    incident: IncidentRef,
    execution_arn: str | None,
    *,
    lease_seconds: int,
    execution_state: str,
    schema_version: int,
    event_id: str = "",
) -> OpenResult:
    """Take the alarm's lock and write the incident, in one transaction.

    The lock is free when absent or when its lease has passed. When it is held, the caller still owns it
    if it holds the same incident from the same event (a retried Intake: ``event_id`` is the one that took
    the lock) or names the same execution (the state machine retrying its Intake task): that caller
    continues its incident instead of folding into it. Another copy of the same alarm transition (the same
    incident, another event id) is a duplicate like any other.
    """
    now = utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    lock = {
        **lock_key(incident.dedupe_key),
        "incident_id": incident.incident_id,
        "execution_arn": execution_arn or "",
        "event_id": event_id,
        "opened_at": isoformat(now),
        "lease_expires_at": _epoch(expires),
        CHECKPOINT_TTL_ATTRIBUTE: _epoch(expires) + _LOCK_TTL_MARGIN_SECONDS,
        "schema_version": schema_version,
    }
    meta = {
        "pk": f"INCIDENT#{incident.incident_id}",
        "sk": "META",
        "status": IncidentStatus.OPEN.value,
        "incident": incident.model_dump_json(),
        "updated_at": isoformat(now),
        "summary": "",
        "execution_arn": execution_arn or "",
        "execution_state": execution_state,
        "duplicates": 0,
        "schema_version": schema_version,
    }
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table.name,
                "Item": lock,
                "ConditionExpression": "attribute_not_exists(pk) OR lease_expires_at < :now",
                "ExpressionAttributeValues": {":now": _epoch(now)},
            }
        },
        {"Put": {"TableName": table.name, "Item": meta, "ConditionExpression": "attribute_not_exists(pk)"}},
    ]
    if execution_arn:
        pointer = {**execution_key(execution_arn), "incident_id": incident.incident_id}
        items.append(
            {"Put": {"TableName": table.name, "Item": {**pointer, "schema_version": schema_version}}}
        )
    try:
        table.meta.client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        held = table.get_item(Key=lock_key(incident.dedupe_key), ConsistentRead=True).get("Item")
        if held is None:
            # The lock is free but this incident exists: a replay of an event whose incident has closed.
            return OpenResult(opened=False, incident_id=incident.incident_id, replayed=True)
        same_owner = held.get("event_id", "") == event_id  # "" for a flow started by hand
        same_incident = same_owner and held["incident_id"] == incident.incident_id
        same_execution = same_owner and bool(execution_arn) and held.get("execution_arn") == execution_arn
        if same_incident or same_execution:  # the owner again (a retry): it continues its incident
            return OpenResult(opened=True, incident_id=str(held["incident_id"]), resumed=True)
        return OpenResult(opened=False, incident_id=str(held["incident_id"]))
    return OpenResult(opened=True, incident_id=incident.incident_id)


def mark_started(table: Any, incident: IncidentRef, *, lease_seconds: int) -> None:
    """The execution runs: extend the lock's lease to the execution's backstop and note it on the incident."""
    expires = utcnow() + timedelta(seconds=lease_seconds)
    try:
        table.update_item(
            Key=lock_key(incident.dedupe_key),
            UpdateExpression="SET lease_expires_at = :l, #ttl = :t",
            ConditionExpression="incident_id = :i",
            ExpressionAttributeNames={"#ttl": CHECKPOINT_TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":l": _epoch(expires),
                ":t": _epoch(expires) + _LOCK_TTL_MARGIN_SECONDS,
                ":i": incident.incident_id,
            },
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        # The lock was taken over (its short start lease passed): the incident still runs, unlocked.
    _set_running(table, incident.incident_id)


def _set_running(table: Any, incident_id: str) -> None:
    try:
        table.update_item(
            Key={"pk": f"INCIDENT#{incident_id}", "sk": "META"},
            UpdateExpression="SET execution_state = :r",
            # Never overwrite how an execution ended (its status change may arrive first).
            ConditionExpression="attribute_exists(pk) AND execution_state = :s",
            ExpressionAttributeValues={":r": RUNNING, ":s": STARTING},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def count_duplicate(
    table: Any, incident_id: str, *, start_lease_seconds: int = START_LEASE_SECONDS
) -> DuplicateCount:
    """Fold one event into the incident: an atomic ADD, no audit write; say whether anyone works it."""
    try:
        item = table.update_item(
            Key={"pk": f"INCIDENT#{incident_id}", "sk": "META"},
            UpdateExpression="ADD duplicates :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return DuplicateCount(incident_id=incident_id, duplicates=0, execution_running=False)
    state = str(item.get("execution_state", RUNNING))
    status = IncidentStatus(item["status"])
    running = not status.is_terminal and state in (STARTING, RUNNING)
    if running and state == STARTING:
        opened = datetime.fromisoformat(str(item["updated_at"]).replace("Z", "+00:00"))
        running = utcnow() - opened < timedelta(seconds=start_lease_seconds)
    return DuplicateCount(
        incident_id=incident_id,
        duplicates=int(item.get("duplicates", 0)),
        execution_running=running,
        execution_state=state,
    )


def incident_of_execution(table: Any, execution_arn: str) -> str | None:
    """The incident an execution works, if it opened one."""
    item = table.get_item(Key=execution_key(execution_arn), ConsistentRead=True).get("Item")
    return str(item["incident_id"]) if item else None


def record_execution_end(table: Any, incident_id: str, execution_status: str) -> None:
    """Note how the incident's execution ended (FAILED, TIMED_OUT, ABORTED)."""
    try:
        table.update_item(
            Key={"pk": f"INCIDENT#{incident_id}", "sk": "META"},
            UpdateExpression="SET execution_state = :e",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":e": execution_status},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def release_lock(table: Any, dedupe_key: str, incident_id: str) -> bool:
    """Delete the lock if this incident still holds it; True if it did."""
    try:
        table.delete_item(
            Key=lock_key(dedupe_key),
            ConditionExpression="incident_id = :i",
            ExpressionAttributeValues={":i": incident_id},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        return False
    return True
