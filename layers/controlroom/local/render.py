"""Plain-text views for the CLI: the incident timeline, approvals, audit verification."""

from __future__ import annotations

from controlroom.contracts import ApprovalRecord, DecisionRecord
from controlroom.store import AuditVerification, IncidentItem


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def version_label(function_version: str) -> str:
    """How the timeline shows the Lambda version that ran a step: ``v3``, an alias name, or ``$LATEST``."""
    label = f"v{function_version}" if function_version.isdigit() else function_version
    return label if len(label) <= 8 else label[-8:]


def flow_revisions(records: list[DecisionRecord]) -> str:
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


def timeline(item: IncidentItem, records: list[DecisionRecord]) -> str:
    """The incident's timeline: each agent, its decision, what it left out, its duration.

    The header names the flow revision (the state machine definition's digest) once; each step
    names the Lambda version that ran it.
    """
    incident = item.incident
    lines = [
        f"incident {incident.incident_id}  status {item.status.value}  env {incident.environment}  "
        f"flow {flow_revisions(records)}",
        f"  alarm {incident.alarm.alarm_name} ({incident.alarm.kind}) on {incident.resource.kind} "
        f"{incident.resource.name}{':' + incident.resource.qualifier if incident.resource.qualifier else ''}",
        f"  {'#':>3}  {'agent':<17} {'status':<6} {'ms':>6}  {'by':<8} {'version':<8} decision / left out",
    ]
    for record in records:
        by = record.produced_by
        version = version_label(record.function_version)
        decision = record.summary or (record.error_type or "")
        if record.status == "error":
            decision = f"{record.error_type}: {record.error_message or ''}"
        lines.append(
            f"  {record.step:>3}  {record.agent:<17} {record.status:<6} {record.duration_ms:>6}  {by:<8} "
            f"{version:<8} {_cell(decision, 70)}"
        )
        if record.left_out:
            lines.append(
                f"  {'':>3}  {'':<17} {'':<6} {'':>6}  {'':<8} {'':<8} left out: {', '.join(record.left_out)}"
            )
    if item.summary:
        lines.append(f"  outcome: {item.summary}")
    return "\n".join(lines)


def approvals(records: list[ApprovalRecord], base_url: str = "") -> str:
    if not records:
        return "no pending approvals"
    lines = [f"{'approval':<38} {'incident':<22} {'votes':<7} expires"]
    for record in records:
        votes = f"{sum(v.verdict == 'approve' for v in record.votes)}/{record.required_approvals}"
        lines.append(
            f"{record.approval_id:<38} {record.incident_id:<22} {votes:<7} {record.expires_at:%Y-%m-%d %H:%M:%S}Z"
        )
    return "\n".join(lines)


def audit(report: AuditVerification) -> str:
    """One line: verified (keyed), unkeyed (previous format: not tamper-evident, never "OK") or broken."""
    if report.ok:
        older = (
            f"; {report.legacy_records} earlier record(s) in the previous format are covered from the "
            "first keyed record on"
            if report.legacy_records
            else ""
        )
        return (
            f"audit chain {report.chain_id}: {report.records} records, hash chain and keyed head verified "
            f"OK{older}"
        )
    if report.status == "unkeyed":
        return (
            f"audit chain {report.chain_id}: UNKEYED, {report.records} records in the previous format "
            f"(schema_version 1): {report.reason}"
        )
    where = f" at record {report.first_bad_seq}" if report.first_bad_seq is not None else ""
    return f"audit chain {report.chain_id}: BROKEN{where}: {report.reason} ({report.records} records read)"
