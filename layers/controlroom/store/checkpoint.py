"""The checkpoint table: incidents, their steps, approvals and rejected events (single table)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from controlroom.contracts import (
    ApprovalRecord,
    ApprovalVote,
    DecisionRecord,
    IncidentRef,
    IncidentStatus,
    canonical_json,
    isoformat,
    utcnow,
)
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import ApprovalNotFound, IncidentNotFound
from controlroom.redaction import redact_for_storage
from controlroom.store import incident_lock
from controlroom.store.approvals import DynamoApprovalItems, VoteResult
from controlroom.store.incident_lock import DuplicateCount, OpenResult
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE, is_conditional_failure
from controlroom.store.versions import check_version

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
    def open_incident(self, incident: IncidentRef, execution_arn: str | None) -> OpenResult: ...

    @abstractmethod
    def get_incident(self, incident_id: str) -> IncidentItem: ...

    @abstractmethod
    def set_status(self, incident_id: str, status: IncidentStatus, summary: str = "") -> None: ...

    @abstractmethod
    def put_step(self, record: DecisionRecord) -> None: ...

    @abstractmethod
    def steps(self, incident_id: str) -> list[DecisionRecord]: ...

    @abstractmethod
    def put_approval(self, approval: ApprovalRecord, task_token: str) -> None: ...

    @abstractmethod
    def get_approval(self, approval_id: str) -> ApprovalRecord: ...

    @abstractmethod
    def task_token(self, approval_id: str) -> str: ...

    @abstractmethod
    def add_vote(self, approval_id: str, vote: ApprovalVote) -> VoteResult: ...

    @abstractmethod
    def pending_approvals(self) -> list[ApprovalRecord]: ...

    @abstractmethod
    def undelivered_approvals(self) -> list[ApprovalRecord]: ...

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


class DynamoCheckpointStore(DynamoApprovalItems, CheckpointStore):
    """CheckpointStore on one DynamoDB table with pk/sk and a GSI (gsi1pk/gsi1sk) for pending approvals.

    The approval items (votes, decision, delivery outbox) are written by ``DynamoApprovalItems``.
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
        lease_seconds: int = incident_lock.START_LEASE_SECONDS,
        execution_state: str = incident_lock.RUNNING,
        event_id: str = "",
    ) -> OpenResult:
        """Open the incident unless its alarm's lock is held by another incident (incident_lock)."""
        return incident_lock.open_incident(
            self._table,
            incident,
            execution_arn,
            lease_seconds=lease_seconds,
            execution_state=execution_state,
            schema_version=SCHEMA_VERSION,
            event_id=event_id,
        )

    def mark_started(self, incident: IncidentRef, lease_seconds: int) -> None:
        incident_lock.mark_started(self._table, incident, lease_seconds=lease_seconds)

    def count_duplicate(self, incident_id: str) -> DuplicateCount:
        return incident_lock.count_duplicate(self._table, incident_id)

    def release_for_execution(self, execution_arn: str, execution_status: str) -> str | None:
        """An execution ended without closing its incident: escalate it and free the alarm.

        Returns the incident id, or None when the execution opened no incident (a rejected event).
        """
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
            # Only the incident that holds the lock may release it.
            incident_lock.release_lock(self._table, current.incident.dedupe_key, incident_id)

    # steps -------------------------------------------------------------------------------------
    def put_step(self, record: DecisionRecord) -> None:
        self._table.put_item(Item=self._step_item(record))

    def step_put(self, record: DecisionRecord) -> dict[str, Any]:
        """The step as a TransactWriteItems Put, to be written with its audit record (``also_write``).

        Parameters
        ----------
        record
            The decision record, its ``step`` the audit record's seq.
        """
        return {"Put": {"TableName": self._table.name, "Item": self._step_item(record)}}

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

    # approval briefs and the incident's approval (added for RequestApproval) ------------------------
    def put_approval_brief(self, brief: ApprovalBrief) -> None:
        """Store what approvers are shown, beside the approval record (never the task token)."""
        self._table.put_item(
            Item={
                "pk": f"APPROVAL#{brief.approval_id}",
                "sk": "BRIEF",
                "brief": brief.model_dump_json(),
                CHECKPOINT_TTL_ATTRIBUTE: _epoch(brief.expires_at) + self._ttl_seconds,
                "schema_version": SCHEMA_VERSION,
            }
        )

    def approval_brief(self, approval_id: str) -> ApprovalBrief:
        """The brief stored for ``approval_id``; ApprovalNotFound when there is none."""
        item = self._require(
            f"APPROVAL#{approval_id}", "BRIEF", ApprovalNotFound(f"no approval brief {approval_id}")
        )
        return ApprovalBrief.model_validate_json(item["brief"])

    def record_incident_approval(self, incident_id: str, approval_id: str) -> None:
        """Note on the incident which approval it waits for, and mark it AWAITING_APPROVAL."""
        try:
            self._table.update_item(
                Key={"pk": f"INCIDENT#{incident_id}", "sk": "META"},
                UpdateExpression="SET approval_id = :a, #s = :s, updated_at = :u",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":a": approval_id,
                    ":s": IncidentStatus.AWAITING_APPROVAL.value,
                    ":u": isoformat(utcnow()),
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise IncidentNotFound(f"no incident {incident_id}") from exc
            raise

    def incident_approval_id(self, incident_id: str) -> str | None:
        """The approval the incident last waited for, if any."""
        item = self._require(
            f"INCIDENT#{incident_id}", "META", IncidentNotFound(f"no incident {incident_id}")
        )
        return item.get("approval_id") or None
