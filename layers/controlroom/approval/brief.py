"""Build the approver's brief from the flow state: what fired, the diagnosis, the plan, the policy."""

from __future__ import annotations

from datetime import datetime

from controlroom.contracts import risk_of
from controlroom.contracts.approval import ApprovalBrief, BriefAction
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.flow import RequestApprovalInput

_MAX_CHANGES = 10
_MAX_METRICS = 8
_MAX_LOG_LINES = 8
_LOG_LINE_LIMIT = 300


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.3g}"


def metric_lines(evidence: EvidenceBundle) -> list[str]:
    """Each metric series in one line: its label, the latest and the peak value, and how many points."""
    lines = []
    for series in evidence.metrics[:_MAX_METRICS]:
        if not series.values:
            lines.append(f"{series.label}: no datapoints in the window")
            continue
        lines.append(
            f"{series.label}: latest {_number(series.values[-1])}, peak {_number(max(series.values))} "
            f"over {len(series.values)} datapoints"
        )
    return lines


def log_lines(evidence: EvidenceBundle) -> list[str]:
    """The most recent log lines, each with its time and group, cut to a readable length."""
    samples = sorted(evidence.logs, key=lambda sample: sample.timestamp)[-_MAX_LOG_LINES:]
    lines = []
    for sample in samples:
        message = " ".join(sample.message.split())
        if len(message) > _LOG_LINE_LIMIT:
            message = message[: _LOG_LINE_LIMIT - 1] + "\u2026"
        lines.append(f"{sample.timestamp:%H:%M:%S}Z {sample.log_group}: {message}")
    return lines


def _resource_label(request: RequestApprovalInput) -> str:
    resource = request.incident.resource
    parts = [
        resource.kind,
        resource.cluster or resource.application or "",
        resource.name,
        resource.qualifier or "",
    ]
    return ":".join(part for part in parts if part)


def build_brief(request: RequestApprovalInput, approval_id: str, expires_at: datetime) -> ApprovalBrief:
    """Everything an approver needs to decide, taken from RequestApproval's input (never the token).

    Parameters
    ----------
    request : RequestApprovalInput
        The flow state RequestApproval received.
    approval_id : str
        The approval's random id.
    expires_at : datetime
        When the approval's links stop working.

    Returns
    -------
    ApprovalBrief
    """
    incident = request.incident
    effects = {decision.action_id: decision for decision in request.policy.decisions}
    actions = []
    for action in request.plan.actions:
        decision = effects.get(action.action_id)
        actions.append(
            BriefAction(
                action_id=action.action_id,
                action_type=action.type,
                target=action.target,
                risk=risk_of(action).value,
                effect=decision.effect if decision else "",
                reasons=list(decision.reasons) if decision else [],
                rationale=action.rationale,
                parameters=action.model_dump(mode="json", exclude={"type", "action_id", "rationale"}),
            )
        )
    top = request.diagnosis.top
    return ApprovalBrief(
        approval_id=approval_id,
        incident_id=incident.incident_id,
        environment=incident.environment,
        alarm_name=incident.alarm.alarm_name,
        state_reason=incident.alarm.state_reason,
        fired_at=incident.alarm.fired_at,
        resource=_resource_label(request),
        diagnosis_cause=top.cause,
        diagnosis_summary=top.summary,
        confidence=top.confidence,
        diagnosis_produced_by=request.diagnosis.produced_by,
        plan_summary=request.plan.summary,
        plan_digest=str(request.plan.plan_digest),
        actions=actions,
        policy_outcome=request.policy.outcome,
        policy_reason=request.policy.reason,
        changes=[
            f"{c.changed_at:%Y-%m-%d %H:%M}Z {c.kind} {c.resource_name}: {c.summary}"
            for c in request.evidence.changes[:_MAX_CHANGES]
        ],
        missing_evidence=[f"{m.tool}: {m.error_type}" for m in request.evidence.missing],
        metrics=metric_lines(request.evidence),
        log_lines=log_lines(request.evidence),
        expires_at=expires_at,
    )
