"""The Close agent: set the final status (releasing the dedupe lock), audit it, tell the on-call."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.contracts import CloseResult, IncidentStatus, utcnow
from controlroom.contracts.flow.close import CloseInput
from controlroom.metric_names import INCIDENTS_RESOLVED
from controlroom.notify import publish_for
from controlroom.runtime import AgentContext, AgentSpec, emit, logger

_STATUS = {"resolved": IncidentStatus.RESOLVED, "rejected": IncidentStatus.REJECTED}


def close_summary(request: CloseInput) -> str:
    """One short paragraph for a human: what fired, what was done, how it ended.

    Parameters
    ----------
    request
        The flow state at Close.

    Returns
    -------
    str
        Plain text, a few lines.
    """
    incident = request.incident
    lines = [
        f"{incident.alarm.alarm_name} on {incident.resource.kind} {incident.resource.name} "
        f"({incident.environment}) fired at {incident.alarm.fired_at:%Y-%m-%d %H:%M} UTC."
    ]
    if request.outcome == "resolved":
        done = (
            ", ".join(f"{r.action_type} {r.status}" for r in request.execution.results)
            if request.execution
            else "no actions"
        )
        lines.append(f"Resolved: {done}.")
        if request.verify is not None:
            lines.append(f"Verified: alarm {request.verify.alarm_state}; {request.verify.detail}")
    else:
        cause = (
            request.error.cause if request.error and request.error.cause else "an approver rejected the plan"
        )
        lines.append(f"Rejected, nothing was executed: {cause}")
    if request.plan is not None:
        lines.append(f"Plan: {request.plan.summary}")
    return "\n".join(lines)


def close(request: CloseInput, ctx: AgentContext) -> CloseResult:
    """Close the incident as resolved or rejected.

    Parameters
    ----------
    request
        The flow state with ``outcome`` set by the state machine.
    ctx
        TOPIC_ARN names the on-call topic (empty: no notification).

    Returns
    -------
    CloseResult
        The final status; ``notified`` is False when no topic is configured or SNS refused.
    """
    incident_id = request.incident.incident_id
    status = _STATUS[request.outcome]
    summary = close_summary(request)
    late_by = (utcnow() - request.incident.deadline_at).total_seconds()
    if late_by > 0:
        # Work done and verified after the budget still counts: resolved, with the lateness on record.
        note = f"late: closed {int(late_by)} s after the incident's time budget ended"
        ctx.notes.append(note)
        summary += f"\nNote: {note}."
    ctx.check_time()
    with ctx.tool("checkpoint.set_status") as call:
        ctx.stores.checkpoint.set_status(incident_id, status, summary)
        call.summary = status.value
    notified = _notify(
        ctx,
        f"[controlroom] {status.value}: {request.incident.alarm.alarm_name} ({incident_id})",
        f"Incident {incident_id} closed {status.value}.\n\n{summary}",
    )
    closed_at = utcnow()
    ctx.stores.audit.append(
        incident_id,
        "incident_closed",
        f"agent:{ctx.agent}",
        {
            "status": status.value,
            "outcome": request.outcome,
            "summary": summary,
            "notified": notified,
            "plan_digest": str(request.plan.plan_digest) if request.plan else None,
        },
    )
    if status is IncidentStatus.RESOLVED:
        emit.count(INCIDENTS_RESOLVED)
    return CloseResult(
        incident_id=incident_id, status=status, summary=summary, notified=notified, closed_at=closed_at
    )


def _notify(ctx: AgentContext, subject: str, message: str) -> bool:
    # The incident is closed whatever SNS says: a lost "resolved" note is logged, not escalated.
    try:
        notified = publish_for(ctx, subject, message, kind="closed")
    except (ClientError, BotoCoreError) as exc:
        logger.warning("close notification failed", error=str(exc))
        return False
    return notified


CLOSE = AgentSpec(
    name="close",
    input_model=CloseInput,
    output_model=CloseResult,
    logic=close,
    summarise=lambda result: f"{result.status.value}; notified={result.notified}",
    stops_at_incident_deadline=False,
)
