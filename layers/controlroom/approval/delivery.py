"""delivery: hand a recorded decision to the waiting execution, now or on a later retry (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.contracts import ApprovalOutcome, ApprovalRecord, ApprovalStatus
from controlroom.runtime import logger
from controlroom.store import AuditLog, CheckpointStore
from controlroom.store.approvals import DELIVERY_NOT_WAITING, DELIVERY_PENDING, DELIVERY_SENT

NOT_WAITING_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_CAUSE_LIMIT = 1000
_ACTOR = "system:approval-delivery"


@dataclass
class SweepReport:
    """What one sweep of the outbox did, by approval id."""

    sent: list[str] = field(default_factory=list)
    not_waiting: list[str] = field(default_factory=list)
    still_pending: list[str] = field(default_factory=list)


def _send(sfn_client: Any, token: str, record: ApprovalRecord) -> None:
    if record.outcome == "approve":
        outcome = ApprovalOutcome(
            approval_id=record.approval_id,
            verdict="approve",
            approvers=[v.approver for v in record.votes if v.verdict == "approve"],
            plan_digest=record.plan_digest,
        )
        sfn_client.send_task_success(taskToken=token, output=outcome.model_dump_json())
        return
    rejecter = next((v for v in record.votes if v.verdict == "reject"), None)
    cause = "rejected" if rejecter is None else f"rejected by {rejecter.approver}"
    if rejecter is not None and rejecter.comment:
        cause += f": {rejecter.comment}"
    sfn_client.send_task_failure(taskToken=token, error="ApprovalRejected", cause=cause[:_CAUSE_LIMIT])


def deliver(checkpoint: CheckpointStore, sfn_client: Any, approval_id: str) -> str:
    """Tell the waiting execution the recorded decision, unless it already was told.

    Returns
    -------
    str
        ``sent``, ``not_waiting`` (the execution stopped waiting), or ``pending``: the call failed or
        another caller holds the delivery lease; the decision stays in the outbox for a retry.
    """
    record = checkpoint.get_approval(approval_id)
    if record.status is not ApprovalStatus.DECIDED or record.delivery != DELIVERY_PENDING:
        return record.delivery or DELIVERY_PENDING
    if not checkpoint.claim_delivery(approval_id):
        return DELIVERY_PENDING
    try:
        _send(sfn_client, checkpoint.task_token(approval_id), record)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in NOT_WAITING_CODES:
            return _keep(checkpoint, approval_id, exc)
        checkpoint.finish_delivery(approval_id, DELIVERY_NOT_WAITING)
        return DELIVERY_NOT_WAITING
    except (BotoCoreError, OSError) as exc:
        # Endpoint unreachable, connection reset, read timeout: the decision stands, delivery waits.
        return _keep(checkpoint, approval_id, exc)
    checkpoint.finish_delivery(approval_id, DELIVERY_SENT)
    return DELIVERY_SENT


def _keep(checkpoint: CheckpointStore, approval_id: str, exc: Exception) -> str:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    error = f"{type(exc).__name__}:{code}" if code else type(exc).__name__
    logger.warning("approval decision not delivered yet", approval_id=approval_id, error_type=error)
    checkpoint.release_delivery(approval_id, error)
    return DELIVERY_PENDING


def redeliver(checkpoint: CheckpointStore, audit: AuditLog, sfn_client: Any, approval_id: str) -> str:
    """Retry one decided approval's delivery (page load, POST, sweeper); audit it when it lands."""
    record = checkpoint.get_approval(approval_id)
    if record.status is not ApprovalStatus.DECIDED or record.delivery != DELIVERY_PENDING:
        return record.delivery or DELIVERY_PENDING
    result = deliver(checkpoint, sfn_client, approval_id)
    if result in (DELIVERY_SENT, DELIVERY_NOT_WAITING):
        audit.append(
            record.incident_id,
            "approval_delivery",
            _ACTOR,
            {"approval_id": approval_id, "outcome": record.outcome, "delivery": result, "retried": True},
        )
    return result


def sweep(checkpoint: CheckpointStore, audit: AuditLog, sfn_client: Any) -> SweepReport:
    """Deliver every decided approval still in the outbox (run on a schedule)."""
    report = SweepReport()
    for record in checkpoint.undelivered_approvals():
        result = redeliver(checkpoint, audit, sfn_client, record.approval_id)
        {DELIVERY_SENT: report.sent, DELIVERY_NOT_WAITING: report.not_waiting}.get(
            result, report.still_pending
        ).append(record.approval_id)
    return report
