"""Approval items in the checkpoint table: votes as atomic appends, the decision, and its delivery outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from controlroom.contracts import ApprovalRecord, ApprovalStatus, ApprovalVote, isoformat, utcnow
from controlroom.errors import ApprovalAlreadyDecided, ApprovalExpired, ApprovalNotFound
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE, is_conditional_failure
from controlroom.store.versions import check_version

PENDING_APPROVALS = "APPROVALS#PENDING"
# Decided approvals whose decision has not reached the waiting execution yet (the outbox).
UNDELIVERED_APPROVALS = "APPROVALS#UNDELIVERED"
DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_NOT_WAITING = "pending", "sent", "not_waiting"


@dataclass(frozen=True)
class VoteResult:
    """What recording one vote did: the record afterwards, and whether this vote's write decided it."""

    record: ApprovalRecord
    settled_here: bool


def voter_key(approver: str) -> str:
    """How approvers are compared: case and surrounding blanks do not make a second voter."""
    return approver.strip().lower()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def record_from_item(item: dict[str, Any]) -> ApprovalRecord:
    """The approval as stored: the request (``record``) plus the vote, decision and delivery attributes.

    Items written before votes were appended atomically keep their votes inside ``record``; both are read.
    """
    base = ApprovalRecord.model_validate_json(item["record"])
    appended = [ApprovalVote.model_validate_json(vote) for vote in item.get("votes", [])]
    return base.model_copy(
        update={
            "votes": [*base.votes, *appended],
            "status": ApprovalStatus(item.get("status", base.status.value)),
            "outcome": item.get("outcome", base.outcome),
            "delivery": item.get("delivery", base.delivery),
        }
    )


class DynamoApprovalItems:
    """The approval half of DynamoCheckpointStore, built by it on the first approval call.

    Only the agents that handle approvals load this module; the checkpoint store delegates to it.

    Parameters
    ----------
    table
        The checkpoint table (boto3 resource Table).
    ttl_seconds
        How long an approval item outlives its expiry.
    schema_version
        The checkpoint items' schema_version this code writes.
    require, query
        The store's consistent, version-checked read of one item, and its paginated query.
    """

    def __init__(
        self,
        table: Any,
        *,
        ttl_seconds: int,
        schema_version: int,
        require: Callable[[str, str, Exception], dict[str, Any]],
        query: Callable[[dict[str, Any]], list[dict[str, Any]]],
    ) -> None:
        self._table = table
        self._ttl_seconds = ttl_seconds
        self._schema_version = schema_version
        self._require = require
        self._query = query

    @staticmethod
    def _key(approval_id: str) -> dict[str, str]:
        return {"pk": f"APPROVAL#{approval_id}", "sk": "META"}

    def put_approval(self, approval: ApprovalRecord, task_token: str) -> None:
        self._table.put_item(
            Item={
                **self._key(approval.approval_id),
                "record": approval.model_dump_json(),
                "status": approval.status.value,
                "task_token": task_token,
                "incident_id": approval.incident_id,
                "gsi1pk": PENDING_APPROVALS,
                "gsi1sk": isoformat(approval.created_at),
                CHECKPOINT_TTL_ATTRIBUTE: _epoch(approval.expires_at) + self._ttl_seconds,
                "schema_version": self._schema_version,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _approval_item(self, approval_id: str) -> dict[str, Any]:
        return self._require(
            f"APPROVAL#{approval_id}", "META", ApprovalNotFound(f"no approval {approval_id}")
        )

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        return record_from_item(self._approval_item(approval_id))

    def task_token(self, approval_id: str) -> str:
        return str(self._approval_item(approval_id)["task_token"])

    def add_vote(self, approval_id: str, vote: ApprovalVote) -> VoteResult:
        """Append one approver's vote atomically; the vote that meets the threshold (or any reject) decides.

        Each vote is its own conditional update (still PENDING, this approver not yet among the voters),
        so two approvers voting at the same moment both count. A vote that decides on its own (a reject,
        or any approval when one is enough) flips the status in the same write; otherwise the vote that
        brings the count to the threshold flips it with a second conditional write. Either way exactly
        one write decides, and only that caller tells the flow.

        Raises
        ------
        ApprovalAlreadyDecided
            The approval was decided first, or this approver already voted (the message says which).
        ApprovalExpired
            The approval expired first.
        """
        stored = self._approval_item(approval_id)
        record = record_from_item(stored)
        # Approvals recorded inside ``record`` by the previous item format are not in the counter.
        earlier = sum(
            1 for v in ApprovalRecord.model_validate_json(stored["record"]).votes if v.verdict == "approve"
        )
        needed = max(1, record.required_approvals - earlier)
        decisive = vote.verdict == "reject" or needed <= 1
        names = {"#s": "status"}
        values: dict[str, Any] = {
            ":pending": ApprovalStatus.PENDING.value,
            ":vote": [vote.model_dump_json()],
            ":empty": [],
            ":voter": {voter_key(vote.approver)},
            ":key": voter_key(vote.approver),
            ":one": 1 if vote.verdict == "approve" else 0,
        }
        expression = (
            "SET votes = list_append(if_not_exists(votes, :empty), :vote) ADD voters :voter, approvals :one"
        )
        if decisive:
            expression = (
                "SET votes = list_append(if_not_exists(votes, :empty), :vote), #s = :decided, outcome = :outcome, "
                "delivery = :delivery, gsi1pk = :outbox, gsi1sk = :at ADD voters :voter, approvals :one"
            )
            values.update(self._decision_values(vote.verdict, vote.decided_at))
        try:
            item = self._table.update_item(
                Key=self._key(approval_id),
                UpdateExpression=expression,
                ConditionExpression="#s = :pending AND (attribute_not_exists(voters) OR NOT contains(voters, :key))",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            raise self._refusal(approval_id, vote.approver) from exc
        if decisive:
            return VoteResult(record_from_item(item), settled_here=True)
        if int(item.get("approvals", 0)) < needed:
            return VoteResult(record_from_item(item), settled_here=False)
        return self._settle_approved(approval_id, needed, vote.decided_at)

    @staticmethod
    def _decision_values(verdict: str, decided_at: datetime) -> dict[str, Any]:
        return {
            ":decided": ApprovalStatus.DECIDED.value,
            ":outcome": verdict,
            ":delivery": DELIVERY_PENDING,
            ":outbox": UNDELIVERED_APPROVALS,
            ":at": isoformat(decided_at),
        }

    def _settle_approved(self, approval_id: str, required: int, decided_at: datetime) -> VoteResult:
        """Flip PENDING -> DECIDED approve once the counter reached ``required``; of racing callers one wins."""
        try:
            item = self._table.update_item(
                Key=self._key(approval_id),
                UpdateExpression="SET #s = :decided, outcome = :outcome, delivery = :delivery, "
                "gsi1pk = :outbox, gsi1sk = :at",
                ConditionExpression="#s = :pending AND approvals >= :required",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":pending": ApprovalStatus.PENDING.value,
                    ":required": required,
                    **self._decision_values("approve", decided_at),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            # Another caller decided first (the other approver of a race, or a reject): this vote counted.
            return VoteResult(self.get_approval(approval_id), settled_here=False)
        return VoteResult(record_from_item(item), settled_here=True)

    def _refusal(self, approval_id: str, approver: str) -> Exception:
        """Why a vote's conditional write failed, read back so nobody is told something untrue."""
        item = self._approval_item(approval_id)
        if voter_key(approver) in set(item.get("voters", set())):
            return ApprovalAlreadyDecided(f"{approver} already voted on {approval_id}")
        status = ApprovalStatus(item.get("status", ApprovalStatus.PENDING.value))
        if status is ApprovalStatus.EXPIRED:
            return ApprovalExpired(f"approval {approval_id} expired")
        return ApprovalAlreadyDecided(f"approval {approval_id} was already decided")

    def expire_approval(self, approval_id: str) -> None:
        """Mark a still-pending approval EXPIRED (the flow timed out waiting)."""
        try:
            self._table.update_item(
                Key=self._key(approval_id),
                UpdateExpression="SET #s = :expired REMOVE gsi1pk, gsi1sk",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":pending": ApprovalStatus.PENDING.value,
                    ":expired": ApprovalStatus.EXPIRED.value,
                },
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def pending_approvals(self) -> list[ApprovalRecord]:
        return self._index(PENDING_APPROVALS)

    def undelivered_approvals(self) -> list[ApprovalRecord]:
        """Decided approvals whose decision has not reached the waiting execution yet, oldest first."""
        return self._index(UNDELIVERED_APPROVALS)

    def _index(self, partition: str) -> list[ApprovalRecord]:
        items = self._query(
            {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": partition},
            }
        )
        # As every read path: the previous schema_version is read, a newer one refused by name.
        for item in items:
            check_version(item, self._schema_version, f"approval {item.get('pk')}/{item.get('sk')}")
        return [record_from_item(item) for item in items]

    # the delivery outbox ---------------------------------------------------------------------------
    def claim_delivery(self, approval_id: str, lease_seconds: int = 60, now: datetime | None = None) -> bool:
        """Take the right to deliver a decided approval for ``lease_seconds``; False if someone holds it.

        The page and the sweeper may retry at the same moment; the lease keeps the flow from being told
        twice, and lapses on its own if the holder dies mid-delivery.
        """
        moment = now or utcnow()
        try:
            self._table.update_item(
                Key=self._key(approval_id),
                UpdateExpression="SET delivery_lease_until = :until ADD delivery_attempts :one",
                ConditionExpression="delivery = :pending AND "
                "(attribute_not_exists(delivery_lease_until) OR delivery_lease_until < :now)",
                ExpressionAttributeValues={
                    ":pending": DELIVERY_PENDING,
                    ":until": isoformat(moment + timedelta(seconds=lease_seconds)),
                    ":now": isoformat(moment),
                    ":one": 1,
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def finish_delivery(self, approval_id: str, result: str) -> None:
        """The decision reached the flow (``sent``) or the flow no longer waits (``not_waiting``)."""
        self._table.update_item(
            Key=self._key(approval_id),
            UpdateExpression="SET delivery = :result REMOVE gsi1pk, gsi1sk, delivery_lease_until",
            ConditionExpression="delivery = :pending",
            ExpressionAttributeValues={":result": result, ":pending": DELIVERY_PENDING},
        )

    def release_delivery(self, approval_id: str, error: str) -> None:
        """Delivery failed for now: keep it in the outbox, free the lease so the next retry runs at once."""
        self._table.update_item(
            Key=self._key(approval_id),
            UpdateExpression="SET delivery_error = :error REMOVE delivery_lease_until",
            ConditionExpression="delivery = :pending",
            ExpressionAttributeValues={":error": error[:500], ":pending": DELIVERY_PENDING},
        )
