"""The deployment RequestApproval agent: the existing signed-link email and page, with a deployment brief."""

from __future__ import annotations

from datetime import datetime

from controlroom.agents.approval_common import approval_signing_key, notify_and_audit, pending_approval
from controlroom.contracts import ApprovalRequested
from controlroom.contracts.approval import ApprovalBrief, BriefAction, DeploymentBrief
from controlroom.contracts.deployment import DeployApprovalInput, PreflightResult
from controlroom.errors import ApprovalPlanMismatch
from controlroom.runtime import AgentContext, AgentSpec


def diff_lines(preflight: PreflightResult) -> list[str]:
    """The manifest diff as lines an approver reads (environment variable keys only, never values)."""
    diff = preflight.diff
    lines = [f"{c.field}: {c.stable} -> {c.candidate}" for c in diff.changes]
    for kind, keys in (
        ("added", diff.env_keys_added),
        ("removed", diff.env_keys_removed),
        ("changed", diff.env_keys_changed),
    ):
        if keys:
            lines.append(f"environment variables {kind}: {', '.join(keys)}")
    return lines


def canary_lines(preflight: PreflightResult) -> list[str]:
    assert preflight.canary is not None
    plan = preflight.canary
    lines = [f"{s.weight_percent}% of traffic for {s.bake_seconds}s, then the SLO guard" for s in plan.steps]
    lines.append(
        f"100%: promote. The guard needs {plan.min_invocations} invocations per version, may extend a bake "
        f"{plan.max_extensions} time(s), and rolls back on a significant error or throttle increase "
        f"(alpha {plan.significance}) or a p99 ratio over {plan.p99_ratio_limit}"
    )
    return lines


def build_deployment_brief(
    request: DeployApprovalInput, approval_id: str, expires_at: datetime
) -> ApprovalBrief:
    """The brief the approval page and email show for a deployment."""
    deployment, preflight, policy = request.deployment, request.preflight, request.policy
    assert preflight.risk is not None
    target = f"{deployment.function_name}:{deployment.alias}"
    return ApprovalBrief(
        approval_id=approval_id,
        incident_id=deployment.deployment_id,
        environment=deployment.environment,
        alarm_name=f"deployment of version {deployment.candidate_version}",
        state_reason=f"requested by {deployment.requested_by}: {preflight.reason}",
        fired_at=deployment.requested_at,
        resource=target,
        diagnosis_cause="deployment requested",
        diagnosis_summary="; ".join(preflight.risk.reasons),
        confidence=1.0,
        diagnosis_produced_by="rules",
        plan_summary=f"canary {target} from {deployment.stable_version} to {deployment.candidate_version}",
        plan_digest=preflight.plan_digest,
        actions=[
            BriefAction(
                action_id="deploy",
                action_type="deploy",
                target=target,
                risk=preflight.risk.level,
                effect=policy.effect,
                reasons=list(policy.reasons),
                rationale="; ".join(canary_lines(preflight)),
                parameters={
                    "stable_version": deployment.stable_version,
                    "candidate_version": deployment.candidate_version,
                },
            )
        ],
        policy_outcome=policy.outcome,
        policy_reason=policy.reason,
        changes=diff_lines(preflight),
        expires_at=expires_at,
        deployment=DeploymentBrief(
            deployment_id=deployment.deployment_id,
            function_name=deployment.function_name,
            alias=deployment.alias,
            stable_version=deployment.stable_version,
            candidate_version=deployment.candidate_version,
            target_environment=deployment.target_environment,
            requested_by=deployment.requested_by,
            diff=diff_lines(preflight),
            risk_level=preflight.risk.level,
            risk_score=preflight.risk.score,
            risk_reasons=list(preflight.risk.reasons),
            canary_plan=canary_lines(preflight),
            freeze_window=preflight.freeze.window,
        ),
    )


def request_deploy_approval(request: DeployApprovalInput, ctx: AgentContext) -> ApprovalRequested:
    """Store the task token under a random approval id and email every approver a signed link.

    Raises
    ------
    ApprovalPlanMismatch
        The policy decided another deployment plan than the one in the state.
    ConfigurationError
        No callback URL configured.
    TransientDependencyError
        There were approvers but no email could be sent (the state retries).
    """
    if request.policy.plan_digest != request.preflight.plan_digest:
        raise ApprovalPlanMismatch("the policy decision was made for a different deployment plan")
    key = approval_signing_key(ctx)
    record = pending_approval(
        ctx,
        request.deployment.deployment_id,
        request.preflight.plan_digest,
        request.policy.required_approvals,
    )
    brief = build_deployment_brief(request, record.approval_id, record.expires_at)
    with ctx.tool("dynamodb:put_approval") as call:
        ctx.stores.checkpoint.put_approval_brief(brief)
        ctx.stores.checkpoint.put_approval(record, request.task_token)
        call.summary = f"approval {record.approval_id} pending"
    return notify_and_audit(ctx, brief, key, record)


DEPLOY_APPROVAL = AgentSpec(
    name="deploy_approval",
    input_model=DeployApprovalInput,
    output_model=ApprovalRequested,
    logic=request_deploy_approval,
    summarise=lambda out: f"approval {out.approval_id} sent to {len(out.notified)} approver(s)",
)
