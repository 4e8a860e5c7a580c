"""The approval methods of DynamoCheckpointStore, loading ``store.approvals`` on the first approval call.

Only the agents that handle approvals (RequestApproval, the callback, the delivery sweeper, Escalate,
the metrics of pending approvals) call these; every other handler's cold start skips the approval
contracts and items altogether.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from controlroom.contracts import IncidentStatus, isoformat, utcnow
from controlroom.errors import ApprovalNotFound, IncidentNotFound
from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE, is_conditional_failure

if TYPE_CHECKING:
    from controlroom.contracts import ApprovalRecord, ApprovalVote
    from controlroom.contracts.approval import ApprovalBrief
    from controlroom.store.approvals import DynamoApprovalItems, VoteResult


class ApprovalAccess:
    """Mixed into DynamoCheckpointStore: its approval items, briefs and the incident's approval."""

    _table: Any
    _ttl_seconds: int
    _schema_version: int

    def _require(self, pk: str, sk: str, missing: Exception) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _query(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    @cached_property
    def _approvals(self) -> DynamoApprovalItems:
        from controlroom.store.approvals import DynamoApprovalItems

        return DynamoApprovalItems(
            self._table,
            ttl_seconds=self._ttl_seconds,
            schema_version=self._schema_version,
            require=self._require,
            query=self._query,
        )

    # approval items (votes, decision, delivery outbox): controlroom.store.approvals ----------------
    def put_approval(self, approval: ApprovalRecord, task_token: str) -> None:
        self._approvals.put_approval(approval, task_token)

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        return self._approvals.get_approval(approval_id)

    def task_token(self, approval_id: str) -> str:
        return self._approvals.task_token(approval_id)

    def add_vote(self, approval_id: str, vote: ApprovalVote) -> VoteResult:
        """See ``DynamoApprovalItems.add_vote``: one atomic vote; exactly one write decides."""
        return self._approvals.add_vote(approval_id, vote)

    def expire_approval(self, approval_id: str) -> None:
        self._approvals.expire_approval(approval_id)

    def pending_approvals(self) -> list[ApprovalRecord]:
        return self._approvals.pending_approvals()

    def undelivered_approvals(self) -> list[ApprovalRecord]:
        return self._approvals.undelivered_approvals()

    def claim_delivery(self, approval_id: str, lease_seconds: int = 60, now: datetime | None = None) -> bool:
        return self._approvals.claim_delivery(approval_id, lease_seconds, now)

    def finish_delivery(self, approval_id: str, result: str) -> None:
        self._approvals.finish_delivery(approval_id, result)

    def release_delivery(self, approval_id: str, error: str) -> None:
        self._approvals.release_delivery(approval_id, error)

    # approval briefs and the incident's approval (added for RequestApproval) ------------------------
    def put_approval_brief(self, brief: ApprovalBrief) -> None:
        """Store what approvers are shown, beside the approval record (never the task token)."""
        self._table.put_item(
            Item={
                "pk": f"APPROVAL#{brief.approval_id}",
                "sk": "BRIEF",
                "brief": brief.model_dump_json(),
                CHECKPOINT_TTL_ATTRIBUTE: int(brief.expires_at.timestamp()) + self._ttl_seconds,
                "schema_version": self._schema_version,
            }
        )

    def approval_brief(self, approval_id: str) -> ApprovalBrief:
        """The brief stored for ``approval_id``; ApprovalNotFound when there is none."""
        from controlroom.contracts.approval import ApprovalBrief

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
