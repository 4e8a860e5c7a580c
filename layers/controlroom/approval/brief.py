"""Build the approver's brief from the flow state: what fired, the diagnosis, the plan, the policy."""

from __future__ import annotations

from datetime import datetime

from controlroom.contracts import risk_of
from controlroom.contracts.approval import ApprovalBrief, BriefAction
from controlroom.contracts.flow import RequestApprovalInput

_MAX_CHANGES = 10


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
        expires_at=expires_at,
    )
