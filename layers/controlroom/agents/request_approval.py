"""The RequestApproval agent: store the task token under a random approval id and email signed links."""

from __future__ import annotations

from controlroom.agents.approval_common import (
    approval_signing_key,
    notify_and_audit,
    pending_approval,
)
from controlroom.agents.approval_common import new_approval_id as new_approval_id
from controlroom.approval.brief import build_brief
from controlroom.contracts import ApprovalRequested, utcnow
from controlroom.contracts.flow.request_approval import RequestApprovalInput
from controlroom.errors import ApprovalPlanMismatch
from controlroom.metric_names import APPROVALS_REQUESTED, TIME_TO_APPROVAL_REQUEST
from controlroom.runtime import AgentContext, AgentSpec, emit, logger


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
