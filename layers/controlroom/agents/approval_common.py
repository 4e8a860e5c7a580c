"""What RequestApproval does for either flow: the pending approval, the signing key, the emails and their audit.

Apart from ``agents.request_approval`` so the deployment flow's approval agent does not import the incident
brief, and with it the evidence, diagnosis, plan and policy contracts it never reads.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from botocore.exceptions import ClientError

from controlroom.approval.email import render_email, send_email
from controlroom.approval.secret import signing_key
from controlroom.approval.signing import approval_link
from controlroom.aws import client
from controlroom.contracts import ApprovalRecord, ApprovalRequested, isoformat, utcnow
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import ConfigurationError, TransientDependencyError
from controlroom.runtime import AgentContext


def new_approval_id() -> str:
    """A fresh, unguessable approval id: ``apr-`` and 32 hex digits."""
    return "apr-" + secrets.token_hex(16)


def _notify(
    ctx: AgentContext, brief: ApprovalBrief, key: bytes, record: ApprovalRecord
) -> tuple[list[str], list[str]]:
    """Email each approver their own link; one failed address does not stop the others."""
    notified: list[str] = []
    failed: list[str] = []
    expires = int(brief.expires_at.timestamp())
    ses = client("ses")
    for approver in record.approvers:
        ctx.check_time(1.0)
        link = approval_link(ctx.settings.APPROVAL_BASE_URL, key, brief.approval_id, approver, expires)
        try:
            with ctx.tool("ses:send_email") as call:
                email = render_email(brief, link, record, approver)
                message_id = send_email(ses, ctx.settings.APPROVAL_SENDER, approver, email)
                call.summary = f"sent to {approver} ({message_id})"
        except ClientError:
            failed.append(approver)
            continue
        notified.append(approver)
    return notified, failed


def approval_signing_key(ctx: AgentContext) -> bytes:
    """The key the approvers' links are signed with, once there is somewhere for the links to point.

    Raises
    ------
    ConfigurationError
        No callback URL configured: approvers would get no link.
    """
    if not ctx.settings.APPROVAL_BASE_URL:
        raise ConfigurationError("APPROVAL_BASE_URL is not set: approvers would get no link")
    with ctx.tool("secretsmanager:get_secret_value") as call:
        key = signing_key(ctx.settings.APPROVAL_SIGNING_SECRET_ARN)
        call.summary = "signing key loaded"
    return key


def pending_approval(
    ctx: AgentContext, subject_id: str, plan_digest: str, required_approvals: int
) -> ApprovalRecord:
    """A new approval of ``plan_digest`` for the incident (or deployment) ``subject_id``, open for the TTL."""
    settings = ctx.settings
    now = utcnow().replace(microsecond=0)
    return ApprovalRecord(
        approval_id=new_approval_id(),
        incident_id=subject_id,
        plan_digest=plan_digest,
        approvers=settings.approvers,
        required_approvals=required_approvals,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.APPROVAL_TTL_SECONDS),
    )


def notify_and_audit(
    ctx: AgentContext, brief: ApprovalBrief, key: bytes, record: ApprovalRecord
) -> ApprovalRequested:
    """Email every approver of a stored approval and audit who was reached.

    Raises
    ------
    TransientDependencyError
        There were approvers but no email could be sent (the state retries).
    """
    notified, failed = _notify(ctx, brief, key, record)
    ctx.stores.audit.append(
        record.incident_id,
        "approval_requested",
        f"agent:{ctx.agent}",
        {
            "approval_id": record.approval_id,
            "plan_digest": record.plan_digest,
            "approvers": record.approvers,
            "required_approvals": record.required_approvals,
            "expires_at": isoformat(record.expires_at),
            "notified": notified,
            "failed": failed,
        },
    )
    if record.approvers and not notified:
        raise TransientDependencyError(f"no approver of {record.approval_id} could be emailed")
    return ApprovalRequested(approval_id=record.approval_id, expires_at=record.expires_at, notified=notified)
