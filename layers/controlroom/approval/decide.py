"""decide: one approver's verdict on a pending approval, recorded once and handed to the waiting flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlroom.approval.delivery import deliver
from controlroom.contracts import ApprovalRecord, ApprovalStatus, ApprovalVote, utcnow
from controlroom.contracts.approval import Verdict
from controlroom.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalForbidden,
    ApprovalNotWaiting,
    ApprovalPlanMismatch,
)
from controlroom.metric_names import APPROVALS_APPROVED, APPROVALS_REJECTED, TIME_TO_DECISION
from controlroom.runtime import emit, logger
from controlroom.store import AuditLog, CheckpointStore
from controlroom.store.approvals import DELIVERY_NOT_WAITING, DELIVERY_PENDING


@dataclass(frozen=True)
class DecisionOutcome:
    """What one vote did.

    ``decided`` is True when the approval is decided (by this vote, or by another that landed while
    this one was counted); otherwise the vote was recorded and ``approvals_missing`` more approvals are
    needed. ``delivery`` is ``sent`` when this vote decided and the flow was told, ``pending`` when the
    decision is recorded but the flow could not be told yet (it is retried), ``not_needed`` otherwise.
    """

    approval_id: str
    incident_id: str
    approver: str
    verdict: str
    decided: bool
    outcome: str | None
    approvals_missing: int
    record: ApprovalRecord
    delivery: str = "not_needed"


def _same_approver(left: str, right: str) -> bool:
    return left.strip().lower() == right.strip().lower()


def check_can_vote(
    record: ApprovalRecord, approver: str, now: datetime, *, enforce_approvers: bool = True
) -> None:
    """Raise the named error that stops ``approver`` from voting on ``record`` now, if any.

    Raises
    ------
    ApprovalAlreadyDecided, ApprovalExpired, ApprovalForbidden
    """
    if record.status is ApprovalStatus.DECIDED:
        raise ApprovalAlreadyDecided(f"approval {record.approval_id} was already decided")
    if record.status is ApprovalStatus.EXPIRED or now >= record.expires_at:
        raise ApprovalExpired(f"approval {record.approval_id} expired")
    if (
        enforce_approvers
        and record.approvers
        and not any(_same_approver(approver, a) for a in record.approvers)
    ):
        raise ApprovalForbidden(f"{approver} is not an approver of {record.approval_id}")
    if any(_same_approver(approver, vote.approver) for vote in record.votes):
        raise ApprovalAlreadyDecided(f"{approver} already voted on {record.approval_id}")


def decide(
    checkpoint: CheckpointStore,
    audit: AuditLog,
    sfn_client: Any,
    approval_id: str,
    approver: str,
    verdict: str,
    comment: str,
    plan_digest_seen: str,
    *,
    enforce_approvers: bool = True,
    now: datetime | None = None,
) -> DecisionOutcome:
    """Record ``approver``'s verdict; when it settles the approval, resume or fail the waiting execution.

    Parameters
    ----------
    checkpoint, audit
        The stores (``ctx.stores`` or ``controlroom.runtime.stores()``).
    sfn_client
        A Step Functions client (``controlroom.aws.client("stepfunctions")``).
    approval_id, approver : str
        Which approval, and who decides (an email, or ``cli:<user>`` for the local CLI).
    verdict : str
        ``"approve"`` or ``"reject"``.
    comment : str
        Free text kept in the vote and the audit record (at most 1000 characters).
    plan_digest_seen : str
        The plan digest the approver was shown; must equal the stored one.
    enforce_approvers : bool
        Check ``approver`` against the approval's list. Only the trusted local CLI passes False.
    now : datetime, optional
        The current time (tests).

    Returns
    -------
    DecisionOutcome

    Raises
    ------
    ApprovalNotFound, ApprovalAlreadyDecided, ApprovalExpired, ApprovalForbidden, ApprovalPlanMismatch
        The vote was refused; nothing changed.
    ApprovalNotWaiting
        The vote decided the approval but the execution was no longer waiting for it.
    ValueError
        ``verdict`` or ``comment`` is not acceptable.

    Notes
    -----
    A failure to reach Step Functions is not raised: the decision stays recorded in the outbox
    (``delivery="pending"``) and is delivered by the next page load, POST or the scheduled sweep.
    """
    if verdict not in ("approve", "reject"):
        raise ValueError("verdict must be approve or reject")
    moment = now or utcnow()
    record = checkpoint.get_approval(approval_id)
    check_can_vote(record, approver, moment, enforce_approvers=enforce_approvers)
    if plan_digest_seen != record.plan_digest:
        raise ApprovalPlanMismatch(f"approval {approval_id} is for a different plan than the one shown")
    typed_verdict: Verdict = "approve" if verdict == "approve" else "reject"
    vote = ApprovalVote(
        approver=approver,
        verdict=typed_verdict,
        comment=comment,
        decided_at=moment,
        plan_digest=plan_digest_seen,
    )
    result = checkpoint.add_vote(approval_id, vote)
    updated = result.record
    decided = updated.status is ApprovalStatus.DECIDED
    if result.settled_here:
        _emit_decision_metrics(checkpoint, updated, moment)
    # Only the write that decided tells the flow; a vote that counted after another decided does not.
    delivery = _deliver_now(checkpoint, sfn_client, approval_id) if result.settled_here else "not_needed"
    audit.append(
        updated.incident_id,
        "approval_decision",
        f"approver:{approver}",
        {
            "approval_id": approval_id,
            "approver": approver,
            "verdict": verdict,
            "comment": comment,
            "plan_digest": plan_digest_seen,
            "decided": result.settled_here,
            "outcome": updated.outcome,
            "status": updated.status.value,
            "trusted_local": not enforce_approvers,
            "delivery": delivery,
        },
    )
    if delivery == DELIVERY_NOT_WAITING:
        raise ApprovalNotWaiting(f"the execution is no longer waiting for approval {approval_id}")
    approvals = sum(1 for v in updated.votes if v.verdict == "approve")
    return DecisionOutcome(
        approval_id=approval_id,
        incident_id=updated.incident_id,
        approver=approver,
        verdict=verdict,
        decided=decided,
        outcome=updated.outcome,
        approvals_missing=0 if decided else max(0, updated.required_approvals - approvals),
        record=updated,
        delivery=delivery,
    )


def _deliver_now(checkpoint: CheckpointStore, sfn_client: Any, approval_id: str) -> str:
    try:
        return deliver(checkpoint, sfn_client, approval_id)
    except Exception as exc:
        # The decision is recorded whatever failed here (e.g. marking it sent): it stays in the outbox,
        # and the next retry (page, POST, sweep) settles it once the lease lapses.
        logger.warning("approval delivery failed", approval_id=approval_id, error_type=type(exc).__name__)
        return DELIVERY_PENDING


def _emit_decision_metrics(checkpoint: CheckpointStore, record: ApprovalRecord, decided_at: datetime) -> None:
    # Counted when the decision is final in the store, whether or not the flow can still be told.
    emit.count(APPROVALS_APPROVED if record.outcome == "approve" else APPROVALS_REJECTED)
    emit.seconds_between(TIME_TO_DECISION, record.created_at, decided_at)
    emit.pending_approvals(checkpoint.pending_approvals)
