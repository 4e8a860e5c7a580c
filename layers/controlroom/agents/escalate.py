"""The Escalate agent: hand the incident to humans with everything known so far.

Escalate is the end of every unhappy path, so it must work from any point of the flow, even when
Intake failed and there is no incident. With an incident it sets the final status (QUARANTINED for
a low-confidence plan, otherwise ESCALATED; both release the dedupe lock), expires the incident's
pending approvals (the flow no longer waits for them, whatever the reason), and appends an
``incident_escalated`` audit record. Without one, the decision record (written by the runtime) is
the only trace, and the notification carries the error.

A notification that SNS refuses fails Escalate on purpose: the state machine then ends in
EscalationFailed, which the ops alarm on failed executions watches. Throttling is retried.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from controlroom.contracts import EscalationResult, IncidentStatus, utcnow
from controlroom.contracts.flow.escalate import EscalateInput
from controlroom.errors import IncidentNotFound, TransientDependencyError
from controlroom.metric_names import APPROVAL_TIMEOUTS, ESCALATIONS
from controlroom.notify import publish_for
from controlroom.runtime import AgentContext, AgentSpec, emit, logger

REASON_TEXT = {
    "error": "an agent failed",
    "policy_deny": "the policy denied the plan",
    "quarantine": "the diagnosis confidence is too low to act on",
    "not_recovered": "the alarm did not recover after the change",
    "approval_timeout": "nobody decided on the approval in time",
    "handoff_limit": "the flow handed work around too often (loop guard)",
    "shadow_mode": "shadow mode: the plan ran as a dry run only",
    "halted": "the environment's kill switch is on: nothing was executed",
}


def escalation_message(request: EscalateInput) -> str:
    """Everything the on-call needs, as plain text: why, what failed, what was thought and planned.

    Parameters
    ----------
    request
        The flow state at Escalate; every part may be missing.

    Returns
    -------
    str
        Sections for the incident, the reason, the error, the diagnosis, the plan with each action's
        policy effect, and any execution and verification results.
    """
    lines = [f"Reason: {request.reason} ({REASON_TEXT[request.reason]})"]
    incident = request.intake.incident if request.intake else None
    if incident is not None:
        lines[:0] = [
            f"Incident {incident.incident_id} in {incident.environment} ({incident.account}, "
            f"{incident.region})",
            f"Alarm: {incident.alarm.alarm_name}: {incident.alarm.state_reason}",
            f"Resource: {incident.resource.kind} {incident.resource.name}"
            + (f":{incident.resource.qualifier}" if incident.resource.qualifier else ""),
        ]
    else:
        lines.insert(0, "No incident was opened (the flow failed before or in Intake).")
    if request.error is not None and (request.error.error or request.error.cause):
        cause = (request.error.cause or "(no cause given)")[:2000]
        lines.append(f"Error: {request.error.error or 'unknown'}: {cause}")
    lines.extend(_diagnosis_lines(request))
    lines.extend(_plan_lines(request))
    lines.extend(_outcome_lines(request))
    return "\n".join(lines)


def _diagnosis_lines(request: EscalateInput) -> list[str]:
    if request.diagnosis is None:
        return []
    top = request.diagnosis.top
    return [
        f"Diagnosis ({request.diagnosis.produced_by}): {top.cause}, confidence {top.confidence:.2f}: "
        f"{top.summary}"
    ]


def _plan_lines(request: EscalateInput) -> list[str]:
    if request.plan is None:
        return []
    effects = {d.action_id: d for d in request.policy.decisions} if request.policy else {}
    lines = [f"Plan ({request.plan.produced_by}): {request.plan.summary}"]
    if request.policy is not None:
        lines.append(
            f"Policy: {request.policy.outcome} ({request.policy.autonomy_mode.value} mode): "
            f"{request.policy.reason}"
        )
    for action in request.plan.actions:
        decided = effects.get(action.action_id)
        verdict = f"{decided.effect} by {', '.join(decided.reasons)}" if decided else "not decided"
        lines.append(f"  - {action.action_id} {action.type} on {action.target}: {verdict}")
    return lines


def _outcome_lines(request: EscalateInput) -> list[str]:
    lines: list[str] = []
    if request.execution is not None:
        mode = "Dry run" if request.execution.dry_run else "Executed"
        lines.extend(
            f"{mode}: {r.action_id} {r.action_type}: {r.status}: {r.detail}"
            for r in request.execution.results
        )
    if request.verify is not None:
        lines.append(
            f"Verify: alarm {request.verify.alarm_state}, recovered={request.verify.recovered}: "
            f"{request.verify.detail}"
        )
    return lines


def escalate(request: EscalateInput, ctx: AgentContext) -> EscalationResult:
    """Escalate the incident (or the failed event) to the on-call.

    Parameters
    ----------
    request
        The flow state with ``reason`` (and ``error`` when a Catch fired).
    ctx
        TOPIC_ARN names the on-call topic.

    Returns
    -------
    EscalationResult
        Final status, approvals expired, and whether the on-call was notified.
    """
    incident = request.intake.incident if request.intake else None
    message = escalation_message(request)
    status = IncidentStatus.QUARANTINED if request.reason == "quarantine" else IncidentStatus.ESCALATED
    expired: list[str] = []
    if incident is not None:
        status_set = _set_status(ctx, incident.incident_id, status, message)
        expired = _expire_approvals(ctx, incident.incident_id)
        ctx.stores.audit.append(
            incident.incident_id,
            "incident_escalated",
            f"agent:{ctx.agent}",
            {
                "reason": request.reason,
                "status": status.value if status_set else None,
                "error": request.error.model_dump(by_alias=True) if request.error else None,
                "expired_approvals": expired,
            },
        )
    name = incident.alarm.alarm_name if incident else "flow failed before an incident was opened"
    label = "QUARANTINED" if request.reason == "quarantine" else "ESCALATED"
    notified = _notify(ctx, f"[controlroom] {label} ({request.reason}): {name}", message)
    summary = f"{request.reason}: {REASON_TEXT[request.reason]}"
    _emit_metrics(ctx, request.reason, expired)
    return EscalationResult(
        incident_id=incident.incident_id if incident else None,
        status=status if incident else None,
        reason=request.reason,
        summary=summary,
        notified=notified,
        expired_approvals=expired,
        escalated_at=utcnow(),
    )


def _emit_metrics(ctx: AgentContext, reason: str, expired: list[str]) -> None:
    # Counted once the on-call was told: a throttled SNS publish retries the whole agent.
    emit.count(ESCALATIONS)
    if reason == "approval_timeout":
        emit.count(APPROVAL_TIMEOUTS)
    if expired:
        emit.pending_approvals(ctx.stores.checkpoint.pending_approvals)


def _set_status(ctx: AgentContext, incident_id: str, status: IncidentStatus, message: str) -> bool:
    try:
        with ctx.tool("checkpoint.set_status") as call:
            ctx.stores.checkpoint.set_status(incident_id, status, message[:2000])
            call.summary = status.value
    except IncidentNotFound:
        # Intake answered with an id but never stored it: still escalate, by notification.
        logger.warning("escalating an incident the checkpoint table does not know", incident_id=incident_id)
        return False
    return True


def _expire_approvals(ctx: AgentContext, incident_id: str) -> list[str]:
    with ctx.tool("checkpoint.expire_approvals") as call:
        pending = [
            a.approval_id for a in ctx.stores.checkpoint.pending_approvals() if a.incident_id == incident_id
        ]
        for approval_id in pending:
            ctx.stores.checkpoint.expire_approval(approval_id)
        call.summary = f"expired {len(pending)}"
    return pending


def _notify(ctx: AgentContext, subject: str, message: str) -> bool:
    try:
        notified = publish_for(ctx, subject, message, kind="escalation")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"Throttling", "ThrottlingException", "InternalError", "KMSThrottlingException"}:
            raise TransientDependencyError(f"SNS publish throttled: {code}") from exc
        raise
    return notified


def _summarise(result: EscalationResult) -> str:
    status = result.status.value if result.status else "no incident"
    return f"{status} ({result.reason}); notified={result.notified}; expired approvals={len(result.expired_approvals)}"


ESCALATE = AgentSpec(
    name="escalate",
    input_model=EscalateInput,
    output_model=EscalationResult,
    logic=escalate,
    summarise=_summarise,
)
