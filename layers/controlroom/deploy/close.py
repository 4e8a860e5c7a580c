"""The deployment Close agent: final status, audit entry, notification; a rollback opens an incident."""

from __future__ import annotations

from controlroom.contracts.deployment import DeployCloseInput, DeployCloseResult
from controlroom.deploy.incident import start_incident_flow
from controlroom.deploy.store import DeploymentStore
from controlroom.errors import ConfigurationError
from controlroom.notify import publish
from controlroom.runtime import AgentContext, AgentSpec

STATUS = {
    "promoted": "PROMOTED",
    "rolled_back": "ROLLED_BACK",
    "refused": "REFUSED",
    "rejected": "REJECTED",
    "denied": "DENIED",
    "escalated": "ESCALATED",
    "dry_run": "DRY_RUN",
}


def _reason(request: DeployCloseInput) -> str:
    if request.reason:
        return request.reason
    deployment = request.deployment
    if request.outcome == "promoted" and deployment:
        return f"{deployment.alias} serves version {deployment.candidate_version}: every canary step passed"
    if request.outcome == "rolled_back" and deployment and request.guard:
        return f"{deployment.alias} back on version {deployment.stable_version}: " + "; ".join(
            request.guard.reasons
        )
    if request.outcome == "refused" and request.preflight:
        return request.preflight.reason
    if request.policy and request.outcome == "denied":
        return request.policy.reason
    if request.guard:
        return "; ".join(request.guard.reasons)
    if request.error:
        return f"{request.error.get('Error', '')}: {str(request.error.get('Cause', ''))[:300]}"
    return request.outcome


def close_deployment(request: DeployCloseInput, ctx: AgentContext) -> DeployCloseResult:
    """Record how the deployment ended; on rollback, start the incident flow with the deployment attached.

    Raises
    ------
    ConfigurationError
        A rollback with no INCIDENT_STATE_MACHINE_ARN: the failed canary would reach nobody.
    """
    deployment = request.deployment
    deployment_id = deployment.deployment_id if deployment else None
    if deployment_id:
        ctx.incident_id = deployment_id
    status = STATUS[request.outcome]
    reason = _reason(request)
    incident_arn = None
    if request.outcome == "rolled_back" and deployment is not None:
        if not ctx.settings.INCIDENT_STATE_MACHINE_ARN:
            raise ConfigurationError(
                "INCIDENT_STATE_MACHINE_ARN is not set: a rollback must open an incident"
            )
        with ctx.tool("states:start_execution") as call:
            incident_arn = start_incident_flow(
                ctx.settings.INCIDENT_STATE_MACHINE_ARN, deployment, request.guard
            )
            call.summary = incident_arn
        DeploymentStore.named(ctx.settings.CHECKPOINT_TABLE).record_incident(
            deployment.function_name, incident_arn
        )
    if deployment is not None and deployment_id:
        store = DeploymentStore.named(ctx.settings.CHECKPOINT_TABLE)
        store.put_status(deployment_id, status, reason, None)
        # The alias is free for the next deployment whatever the outcome (traffic is settled by now).
        store.release_alias(deployment.function_name, deployment.alias, deployment_id)
        # An approval the flow stopped waiting for (timeout) must not stay clickable.
        with ctx.tool("checkpoint.expire_approvals") as call:
            pending = [
                a.approval_id
                for a in ctx.stores.checkpoint.pending_approvals()
                if a.incident_id == deployment_id
            ]
            for approval_id in pending:
                ctx.stores.checkpoint.expire_approval(approval_id)
            call.summary = f"expired {len(pending)}"
        ctx.stores.audit.append(
            deployment_id,
            "deployment_closed",
            f"agent:{ctx.agent}",
            {
                "outcome": request.outcome,
                "status": status,
                "reason": reason[:1000],
                "stable_version": deployment.stable_version if deployment else None,
                "candidate_version": deployment.candidate_version if deployment else None,
                "incident_execution_arn": incident_arn,
                "function_version": ctx.function_version,
            },
        )
    target = f"{deployment.function_name}:{deployment.alias}" if deployment else "a deployment"
    with ctx.tool("sns:publish") as call:
        notified = publish(
            ctx.settings.TOPIC_ARN,
            f"[controlroom {ctx.settings.ENVIRONMENT}] deployment {status.lower()}: {target}",
            f"{deployment_id or 'deployment'}: {status}\n{reason}"
            + (f"\nincident flow: {incident_arn}" if incident_arn else ""),
            kind="deployment",
            environment=ctx.settings.ENVIRONMENT,
        )
        call.summary = "notified" if notified else "no topic configured"
    return DeployCloseResult(
        deployment_id=deployment_id,
        outcome=request.outcome,
        status=status,
        incident_execution_arn=incident_arn,
        notified=notified,
    )


DEPLOY_CLOSE = AgentSpec(
    name="deploy_close",
    input_model=DeployCloseInput,
    output_model=DeployCloseResult,
    logic=close_deployment,
    summarise=lambda out: (
        f"{out.status}"
        + (f", incident flow {out.incident_execution_arn}" if out.incident_execution_arn else "")
    ),
)
