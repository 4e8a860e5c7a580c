"""`controlroom trace`: an incident's or a deployment's steps, the humans' votes and every wait between them.

The trace is built once (:func:`incident_trace`, :func:`deployment_trace`) from the decision records, the approval
records and the audit chain, then rendered as text (:func:`controlroom.local.trace_text.render`) or as one JSON
document (:meth:`Trace.to_json`). Both show the same facts; the text hides the context each agent was passed and
left out unless asked (``-v``), the JSON always carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from controlroom.contracts import ApprovalRecord, ApprovalStatus, ApprovalVote, DecisionRecord, utcnow
from controlroom.errors import ApprovalNotFound, IncidentNotFound
from controlroom.local import trace_details
from controlroom.local.trace_model import ToolUse, Trace, TraceApproval, TraceStep, TraceVote, TraceWait
from controlroom.store import IncidentItem

APPROVAL_AGENTS = frozenset({"request_approval", "deploy_approval"})
# Step Functions takes a few hundred milliseconds between two tasks; a gap shorter than this is not a wait.
WAIT_THRESHOLD_SECONDS = 1.0


def version_label(function_version: str) -> str:
    """How the timeline shows the Lambda version that ran a step: ``v3``, an alias name, or ``$LATEST``."""
    label = f"v{function_version}" if function_version.isdigit() else function_version
    return label if len(label) <= 8 else label[-8:]


def flow_revisions(records: Sequence[DecisionRecord | TraceStep]) -> str:
    """The state machine revision(s) the steps ran under, for the timeline's header.

    One revision is the normal case. A duplicate alarm handled by a newer deployment appends its
    Intake step to the open incident, so several are possible; each then names its steps.
    """
    steps: dict[str, list[int]] = {}
    for record in records:
        if record.flow_revision:
            steps.setdefault(record.flow_revision, []).append(record.step)
    if not steps:
        return "not recorded"
    if len(steps) == 1:
        return next(iter(steps))
    return ", ".join(
        f"{revision} (step{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))})"
        for revision, numbers in steps.items()
    )


def _deciding_moment(record: ApprovalRecord) -> datetime | None:
    """When the approval was decided: the first reject, or the approval that met the threshold."""
    if record.status is not ApprovalStatus.DECIDED:
        return None
    votes = sorted(record.votes, key=lambda vote: vote.decided_at)
    if record.outcome == "reject":
        rejects = [vote.decided_at for vote in votes if vote.verdict == "reject"]
        return rejects[0] if rejects else None
    approves = [vote.decided_at for vote in votes if vote.verdict == "approve"]
    return approves[min(record.required_approvals, len(approves)) - 1] if approves else None


def approval_view(record: ApprovalRecord) -> TraceApproval:
    decided_at = _deciding_moment(record)
    return TraceApproval(
        approval_id=record.approval_id,
        status=record.status.value,
        outcome=record.outcome,
        requested_at=record.created_at,
        expires_at=record.expires_at,
        decided_at=decided_at,
        required_approvals=record.required_approvals,
        approvers=list(record.approvers),
        votes=[
            TraceVote(approver=v.approver, verdict=v.verdict, comment=v.comment, decided_at=v.decided_at)
            for v in sorted(record.votes, key=lambda vote: vote.decided_at)
        ],
        waited_seconds=(decided_at - record.created_at).total_seconds() if decided_at else None,
    )


def _step(record: DecisionRecord, actions: dict[str, Any]) -> TraceStep:
    output = record.output or {}
    approval_id = output.get("approval_id") if record.agent in APPROVAL_AGENTS else None
    return TraceStep(
        step=record.step,
        agent=record.agent,
        status=record.status,
        started_at=record.started_at,
        ended_at=record.started_at + timedelta(milliseconds=record.duration_ms),
        duration_ms=record.duration_ms,
        produced_by=record.produced_by,
        function_version=record.function_version,
        flow_revision=record.flow_revision,
        summary=record.summary,
        error_type=record.error_type,
        error_message=record.error_message,
        details=trace_details.details(record),
        changes=trace_details.changes(record, actions),
        missing_evidence=trace_details.missing_evidence(record),
        context_passed=list(record.context_passed),
        left_out=list(record.left_out),
        tool_calls=[
            ToolUse(tool=t.tool, ok=t.ok, duration_ms=t.duration_ms, error_type=t.error_type)
            for t in record.tool_calls
        ],
        notes=list(record.notes),
        approval_id=str(approval_id) if approval_id else None,
        output=record.output,
    )


def _approval_wait(
    step: TraceStep, after: TraceStep | None, approval: TraceApproval | None, now: datetime
) -> TraceWait:
    """The wait for a human: from the request to the deciding vote, else to the next step (or now)."""
    if approval is not None and approval.decided_at is not None:
        start, end = approval.requested_at, approval.decided_at
    elif after is not None:
        start, end = step.ended_at, after.started_at
    else:
        start, end = (approval.requested_at if approval else step.ended_at), None
    seconds = ((end or now) - start).total_seconds()
    return TraceWait(
        after_step=step.step,
        before_step=after.step if after else None,
        started_at=start,
        ended_at=end,
        seconds=max(0.0, seconds),
        reason="approval",
        approval_id=step.approval_id,
    )


def waits(steps: list[TraceStep], approvals: dict[str, TraceApproval], now: datetime) -> list[TraceWait]:
    """Every wait between consecutive steps: approvals always, other gaps from WAIT_THRESHOLD_SECONDS on."""
    found: list[TraceWait] = []
    for index, step in enumerate(steps):
        after = steps[index + 1] if index + 1 < len(steps) else None
        if step.agent in APPROVAL_AGENTS and step.status == "ok":
            approval = approvals.get(step.approval_id or "")
            found.append(_approval_wait(step, after, approval, now))
            continue
        if after is None:
            continue
        gap = (after.started_at - step.ended_at).total_seconds()
        if gap >= WAIT_THRESHOLD_SECONDS:
            bake = step.agent == "traffic_shifter" and after.agent == "slo_guard"
            found.append(
                TraceWait(
                    after_step=step.step,
                    before_step=after.step,
                    started_at=step.ended_at,
                    ended_at=after.started_at,
                    seconds=gap,
                    reason="bake" if bake else "pause",
                )
            )
    return found


def _assemble(
    kind: Literal["incident", "deployment"],
    subject_id: str,
    header: dict[str, Any],
    records: list[DecisionRecord],
    approvals: Sequence[ApprovalRecord],
    now: datetime | None,
) -> Trace:
    ordered = sorted(records, key=lambda record: record.step)
    actions = trace_details.plan_actions(ordered)
    steps = [_step(record, actions) for record in ordered]
    views = [approval_view(record) for record in approvals]
    revisions = list(dict.fromkeys(step.flow_revision for step in steps if step.flow_revision))
    return Trace(
        kind=kind,
        id=subject_id,
        started_at=min((s.started_at for s in steps), default=None),
        ended_at=max((s.ended_at for s in steps), default=None),
        flow_revisions=revisions,
        steps=steps,
        approvals=views,
        waits=waits(steps, {view.approval_id: view for view in views}, now or utcnow()),
        **header,
    )


def incident_trace(
    item: IncidentItem,
    records: list[DecisionRecord],
    approvals: Sequence[ApprovalRecord] = (),
    *,
    now: datetime | None = None,
) -> Trace:
    """The incident's trace from its checkpoint item, its decision records and its approvals."""
    incident = item.incident
    qualifier = f":{incident.resource.qualifier}" if incident.resource.qualifier else ""
    subject = (
        f"alarm {incident.alarm.alarm_name} ({incident.alarm.kind}) on {incident.resource.kind} "
        f"{incident.resource.name}{qualifier}, fired {incident.alarm.fired_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    header = {
        "status": item.status.value,
        "environment": incident.environment,
        "subject": subject,
        "outcome": item.summary,
    }
    return _assemble("incident", incident.incident_id, header, records, approvals, now)


def _deployment_subject(
    deployment_id: str, status: dict[str, Any] | None, records: list[DecisionRecord]
) -> str:
    ref = ((status or {}).get("deployment") or {}).get("ref")
    if not ref:
        preflight = next((r.output for r in records if r.agent == "deploy_preflight" and r.output), None)
        ref = (preflight or {}).get("deployment")
    if not ref:
        return f"deployment {deployment_id} (preflight did not name it)"
    return (
        f"{ref['function_name']}:{ref['alias']} version {ref['stable_version']} -> {ref['candidate_version']}, "
        f"requested by {ref['requested_by']} at {str(ref['requested_at'])[:19].replace('T', ' ')} UTC, "
        f"target environment {ref['target_environment']}"
    )


def deployment_trace(
    deployment_id: str,
    status: dict[str, Any] | None,
    records: list[DecisionRecord],
    approvals: Sequence[ApprovalRecord] = (),
    *,
    now: datetime | None = None,
) -> Trace:
    """The deployment's trace from its status item (``DeploymentStore.get``), records and approvals."""
    ref = ((status or {}).get("deployment") or {}).get("ref") or {}
    header = {
        "status": str((status or {}).get("status", "unknown")),
        "environment": ref.get("target_environment"),
        "subject": _deployment_subject(deployment_id, status, records),
        "outcome": str((status or {}).get("summary", "")),
    }
    return _assemble("deployment", deployment_id, header, records, approvals, now)


# reading a running engine ---------------------------------------------------------------------------
def _from_audit(approval_id: str, audit_records: list[Any]) -> ApprovalRecord | None:
    """An approval rebuilt from its audit records, for one whose checkpoint item is gone (its TTL)."""
    requested = next(
        (
            r
            for r in audit_records
            if r.kind == "approval_requested" and r.payload.get("approval_id") == approval_id
        ),
        None,
    )
    if requested is None:
        return None
    decisions = [
        r
        for r in audit_records
        if r.kind == "approval_decision" and r.payload.get("approval_id") == approval_id
    ]
    final = next((r.payload for r in reversed(decisions) if r.payload.get("decided")), None)
    return ApprovalRecord(
        approval_id=approval_id,
        incident_id=requested.chain_id,
        plan_digest=requested.payload.get("plan_digest", ""),
        approvers=list(requested.payload.get("approvers") or []),
        required_approvals=int(requested.payload.get("required_approvals") or 1),
        status=ApprovalStatus.DECIDED if final else ApprovalStatus.PENDING,
        created_at=datetime.fromisoformat(requested.recorded_at),
        expires_at=datetime.fromisoformat(requested.payload["expires_at"]),
        votes=[
            ApprovalVote(
                approver=r.payload["approver"],
                verdict=r.payload["verdict"],
                comment=r.payload.get("comment", ""),
                decided_at=datetime.fromisoformat(r.recorded_at),
                plan_digest=r.payload.get("plan_digest", ""),
            )
            for r in decisions
        ],
        outcome=final.get("outcome") if final else None,
    )


def approvals_of(client: Any, subject_id: str) -> list[ApprovalRecord]:
    """The approvals an incident or deployment asked for, oldest first, from its audit chain."""
    audit_records = client.audit.records(subject_id)
    ids = [r.payload["approval_id"] for r in audit_records if r.kind == "approval_requested"]
    if not subject_id.startswith("dep-"):
        last = client.checkpoint.incident_approval_id(subject_id)
        ids += [last] if last else []
    found: list[ApprovalRecord] = []
    for approval_id in dict.fromkeys(ids):
        try:
            found.append(client.checkpoint.get_approval(approval_id))
        except ApprovalNotFound:
            rebuilt = _from_audit(approval_id, audit_records)
            found += [rebuilt] if rebuilt else []
    return found


def load(client: Any, subject_id: str, *, now: datetime | None = None) -> Trace:
    """Read an incident's (``inc-...``) or deployment's (``dep-...``) trace from a running local engine.

    Raises
    ------
    IncidentNotFound
        No incident or deployment has that id.
    """
    if subject_id.startswith("dep-"):
        from controlroom.deploy.store import DeploymentStore

        status = DeploymentStore(client.checkpoint._table).get(subject_id)
        records = client.timeline(subject_id)
        if status is None and not records:
            raise IncidentNotFound(f"no deployment {subject_id}")
        return deployment_trace(subject_id, status, records, approvals_of(client, subject_id), now=now)
    item = client.incident(subject_id)
    return incident_trace(item, client.timeline(subject_id), approvals_of(client, subject_id), now=now)


def timeline(
    item: IncidentItem,
    records: list[DecisionRecord],
    approvals: Sequence[ApprovalRecord] = (),
    *,
    verbose: bool = False,
    width: int | None = None,
) -> str:
    """The incident's trace as text: each agent, its decision, the votes and the waits (see trace_text)."""
    from controlroom.local.trace_text import render

    return render(incident_trace(item, records, approvals), verbose=verbose, width=width)
