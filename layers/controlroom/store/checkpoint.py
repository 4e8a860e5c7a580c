"""The checkpoint table: incidents, their steps, approvals and rejected events (single table).

The alarm's lock (``incident_lock``) and the approval items (``approvals``, through ``approval_access``)
are loaded by the first call that needs them: most agents only write timeline steps, and their cold
start does not pay for the rest.
"""

# No ``from __future__ import annotations``: pydantic would compile and evaluate every field's string.
import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from controlroom.contracts import (
    DecisionRecord,
    IncidentRef,
    IncidentStatus,
    canonical_json,
    isoformat,
    utcnow,
)
from controlroom.errors import IncidentNotFound
from controlroom.redaction import redact_for_storage
from controlroom.store.approval_access import ApprovalAccess
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE
from controlroom.store.versions import check_version

if TYPE_CHECKING:
    from controlroom.contracts import ApprovalRecord, ApprovalVote
    from controlroom.store.approvals import VoteResult
    from controlroom.store.incident_lock import DuplicateCount, OpenResult

SCHEMA_VERSION = 1
# Rejected events are evidence of dropped input: kept a quarter, long after any incident review.
REJECTED_EVENT_TTL_SECONDS = 90 * 86400


class IncidentItem(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    incident: IncidentRef
    status: IncidentStatus
    updated_at: str
    execution_arn: str | None = None
    summary: str = ""


class CheckpointStore(ABC):
    """Port for everything the flow checkpoints outside the state machine's own state."""

    @abstractmethod
    def open_incident(self, incident: IncidentRef, execution_arn: str | None) -> "OpenResult": ...

    @abstractmethod
    def get_incident(self, incident_id: str) -> IncidentItem: ...

    @abstractmethod
    def set_status(self, incident_id: str, status: IncidentStatus, summary: str = "") -> None: ...

    @abstractmethod
    def put_step(self, record: DecisionRecord) -> None: ...

    @abstractmethod
    def steps(self, incident_id: str) -> list[DecisionRecord]: ...

    @abstractmethod
    def put_approval(self, approval: "ApprovalRecord", task_token: str) -> None: ...

    @abstractmethod
    def get_approval(self, approval_id: str) -> "ApprovalRecord": ...

    @abstractmethod
    def task_token(self, approval_id: str) -> str: ...

    @abstractmethod
    def add_vote(self, approval_id: str, vote: "ApprovalVote") -> "VoteResult": ...

    @abstractmethod
    def pending_approvals(self) -> "list[ApprovalRecord]": ...

    @abstractmethod
    def undelivered_approvals(self) -> "list[ApprovalRecord]": ...

    @abstractmethod
    def claim_delivery(
        self, approval_id: str, lease_seconds: int = 60, now: datetime | None = None
    ) -> bool: ...

    @abstractmethod
    def finish_delivery(self, approval_id: str, result: str) -> None: ...

    @abstractmethod
    def release_delivery(self, approval_id: str, error: str) -> None: ...

    @abstractmethod
    def put_rejected_event(
        self,
        event_digest: str,
        raw_event: Any,
        error_type: str,
        message: str,
        *,
        raw_event_location: str | None = None,
    ) -> None: ...


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _check_version(item: dict[str, Any]) -> None:
    check_version(item, SCHEMA_VERSION, f"checkpoint item {item.get('pk')}/{item.get('sk')}")


def _checked(item: dict[str, Any]) -> dict[str, Any]:
    _check_version(item)
    return item


class DynamoCheckpointStore(ApprovalAccess, CheckpointStore):
    """CheckpointStore on one DynamoDB table with pk/sk and a GSI (gsi1pk/gsi1sk) for pending approvals.

    The approval items (votes, decision, delivery outbox) are written by ``DynamoApprovalItems``, reached
    through ``ApprovalAccess``; the alarm's lock by ``incident_lock``.
    """

    _schema_version = SCHEMA_VERSION

    def __init__(self, table: Any, ttl_days: int = 30) -> None:
        self._table = table
        self._ttl_seconds = ttl_days * 86400

    # incidents ---------------------------------------------------------------------------------
    def open_incident(
        self,
        incident: IncidentRef,
        execution_arn: str | None,
        *,
        lease_seconds: int | None = None,
        execution_state: str | None = None,
        event_id: str = "",
    ) -> "OpenResult":
        """Open the incident unless its alarm's lock is held by another incident (incident_lock).

        ``lease_seconds`` defaults to ``incident_lock.START_LEASE_SECONDS``, ``execution_state`` to RUNNING.
        """
        from controlroom.store import incident_lock

        return incident_lock.open_incident(
            self._table,
            incident,
            execution_arn,
            lease_seconds=incident_lock.START_LEASE_SECONDS if lease_seconds is None else lease_seconds,
            execution_state=execution_state or incident_lock.RUNNING,
            schema_version=SCHEMA_VERSION,
            event_id=event_id,
        )

    def mark_started(self, incident: IncidentRef, lease_seconds: int) -> None:
        from controlroom.store import incident_lock

        incident_lock.mark_started(self._table, incident, lease_seconds=lease_seconds)

    def count_duplicate(self, incident_id: str) -> "DuplicateCount":
        from controlroom.store import incident_lock

        return incident_lock.count_duplicate(self._table, incident_id)

    def release_for_execution(self, execution_arn: str, execution_status: str) -> str | None:
        """An execution ended without closing its incident: escalate it and free the alarm.

        Returns the incident id, or None when the execution opened no incident (a rejected event).
        """
        from controlroom.store import incident_lock

        incident_id = incident_lock.incident_of_execution(self._table, execution_arn)
        if incident_id is None:
            return None
        incident_lock.record_execution_end(self._table, incident_id, execution_status)
        current = self.get_incident(incident_id)
        if not current.status.is_terminal:
            self.set_status(
                incident_id,
                IncidentStatus.ESCALATED,
                f"the execution {execution_status} before the incident was closed; the alarm's lock is released",
            )
        incident_lock.release_lock(self._table, current.incident.dedupe_key, incident_id)
        return incident_id

    def get_incident(self, incident_id: str) -> IncidentItem:
        item = self._require(
            f"INCIDENT#{incident_id}", "META", IncidentNotFound(f"no incident {incident_id}")
        )
        return IncidentItem(
            incident=IncidentRef.model_validate_json(item["incident"]),
            status=IncidentStatus(item["status"]),
            updated_at=item["updated_at"],
            execution_arn=item.get("execution_arn") or None,
            summary=item.get("summary", ""),
        )

    def set_status(self, incident_id: str, status: IncidentStatus, summary: str = "") -> None:
        """Move the incident to ``status``; a terminal status releases the dedupe lock."""
        current = self.get_incident(incident_id)
        self._table.update_item(
            Key={"pk": f"INCIDENT#{incident_id}", "sk": "META"},
            UpdateExpression="SET #s = :s, updated_at = :u, summary = :m",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status.value, ":u": isoformat(utcnow()), ":m": summary},
            ConditionExpression="attribute_exists(pk)",
        )
        if status.is_terminal:
            from controlroom.store import incident_lock

            # Only the incident that holds the lock may release it.
            incident_lock.release_lock(self._table, current.incident.dedupe_key, incident_id)

    # steps -------------------------------------------------------------------------------------
    def put_step(self, record: DecisionRecord) -> None:
        self._table.put_item(Item=self._step_item(record))

    def step_put(self, incident_id: str, agent: str, step: int, stored_record: str) -> dict[str, Any]:
        """The step as a TransactWriteItems Put, written with its audit record (``also_write``).

        Parameters
        ----------
        incident_id, agent
            Whose step it is (the item's key).
        step
            The audit record's seq.
        stored_record
            The decision record without its ``step``, as the audit log stored it: redacted by the audit
            append (the same profile as ``put_step``) and canonical JSON. Not redacted again here.
        """
        # The stored text with the step added (no second redaction or dump), checked as the timeline reads it.
        rest = stored_record[1:]
        record_json = f'{{"step":{int(step)}' + ("," + rest if rest != "}" else "}")
        DecisionRecord.model_validate_json(record_json)
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": {
                    "pk": f"INCIDENT#{incident_id}",
                    "sk": f"STEP#{step:05d}#{agent}",
                    "record": record_json,
                    "schema_version": SCHEMA_VERSION,
                },
            }
        }

    @staticmethod
    def _step_item(record: DecisionRecord) -> dict[str, Any]:
        # Secrets in an agent's output or error message are not stored (the audit record is redacted alike).
        clean = DecisionRecord.model_validate(redact_for_storage(record.model_dump(mode="json")))
        return {
            "pk": f"INCIDENT#{record.incident_id}",
            "sk": f"STEP#{record.step:05d}#{record.agent}",
            "record": clean.model_dump_json(),
            "schema_version": SCHEMA_VERSION,
        }

    def steps(self, incident_id: str) -> list[DecisionRecord]:
        items = self._query(
            {
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                "ExpressionAttributeValues": {":p": f"INCIDENT#{incident_id}", ":s": "STEP#"},
            }
        )
        return [DecisionRecord.model_validate_json(_checked(item)["record"]) for item in items]

    # rejected events ---------------------------------------------------------------------------
    def put_rejected_event(
        self,
        event_digest: str,
        raw_event: Any,
        error_type: str,
        message: str,
        *,
        raw_event_location: str | None = None,
    ) -> None:
        """Keep an event Intake could not accept, verbatim, for REJECTED_EVENT_TTL_SECONDS.

        ``raw_event_location`` (an ``s3://`` URL) replaces the inline copy for events too large for an item.
        """
        received_at = utcnow()
        kept: dict[str, Any] = (
            {"raw_event_location": raw_event_location}
            if raw_event_location
            else {"raw_event": canonical_json(raw_event)}
        )
        self._table.put_item(
            Item={
                "pk": f"REJECTED#{event_digest}",
                "sk": "EVENT",
                **kept,
                "error_type": error_type,
                "message": message[:2000],
                "received_at": isoformat(received_at),
                "schema_version": SCHEMA_VERSION,
                CHECKPOINT_TTL_ATTRIBUTE: _epoch(received_at) + REJECTED_EVENT_TTL_SECONDS,
            }
        )

    def rejected_event(self, event_digest: str) -> dict[str, Any] | None:
        """The rejected event's item; ``raw_event`` is None when it is kept at ``raw_event_location``."""
        item = self._table.get_item(Key={"pk": f"REJECTED#{event_digest}", "sk": "EVENT"}).get("Item")
        if item is None:
            return None
        _check_version(item)
        raw = item.get("raw_event")
        return {**item, "raw_event": json.loads(raw) if raw is not None else None}

    def _require(self, pk: str, sk: str, missing: Exception) -> dict[str, Any]:
        """The item at (pk, sk), read consistently and version-checked; raise ``missing`` if absent."""
        item = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        if item is None:
            raise missing
        _check_version(item)
        return dict(item)

    def _query(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self._table.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs = {**kwargs, "ExclusiveStartKey": response["LastEvaluatedKey"]}
