"""The RequestApproval agent: store the task token under a random approval id and email signed links."""

from __future__ import annotations

import secrets
from datetime import timedelta

from botocore.exceptions import ClientError

from controlroom.approval.brief import build_brief
from controlroom.approval.email import render_email, send_email
from controlroom.approval.secret import signing_key
from controlroom.approval.signing import approval_link
from controlroom.aws import client
from controlroom.contracts import ApprovalRecord, ApprovalRequested, isoformat, utcnow
from controlroom.contracts.approval import ApprovalBrief
from controlroom.contracts.flow.request_approval import RequestApprovalInput
from controlroom.errors import ApprovalPlanMismatch, ConfigurationError, TransientDependencyError
from controlroom.metric_names import APPROVALS_REQUESTED, TIME_TO_APPROVAL_REQUEST
from controlroom.runtime import AgentContext, AgentSpec, emit, logger


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


def request_approval(request: RequestApprovalInput, ctx: AgentContext) -> ApprovalRequested:
    """Open the approval for the plan the policy sent to a human, and notify every approver.

    Raises
    ------
    ApprovalPlanMismatch
        The policy decision is for another plan than the one in the state.
    ConfigurationError
        No callback URL or signing key is configured.
    TransientDependencyError
        There were approvers but no email could be sent (the state retries).
    """
    plan_digest = str(request.plan.plan_digest)
    if plan_digest != request.policy.plan_digest:
        raise ApprovalPlanMismatch("the policy decision was made for a different plan")
    key = approval_signing_key(ctx)
    record = pending_approval(ctx, request.incident.incident_id, plan_digest, ctx.settings.REQUIRED_APPROVALS)
    approval_id = record.approval_id
    brief = build_brief(request, approval_id, record.expires_at)
    with ctx.tool("dynamodb:put_approval") as call:
        ctx.stores.checkpoint.put_approval_brief(brief)
        ctx.stores.checkpoint.put_approval(record, request.task_token)
        ctx.stores.checkpoint.record_incident_approval(record.incident_id, approval_id)
        call.summary = f"approval {approval_id} pending"
    if not record.approvers:
        logger.warning("no approvers configured: only the local CLI can decide", approval_id=approval_id)
    requested = notify_and_audit(ctx, brief, key, record)
    emit.count(APPROVALS_REQUESTED)
    emit.seconds_between(TIME_TO_APPROVAL_REQUEST, request.incident.alarm.fired_at, utcnow())
    emit.pending_approvals(ctx.stores.checkpoint.pending_approvals)
    return requested


REQUEST_APPROVAL = AgentSpec(
    name="request_approval",
    input_model=RequestApprovalInput,
    output_model=ApprovalRequested,
    logic=request_approval,
    summarise=lambda output: f"approval {output.approval_id} sent to {len(output.notified)} approver(s)",
)
