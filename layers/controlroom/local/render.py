"""Plain-text views for the CLI: incidents, fire, approvals and audit verification (the timeline is in
local/trace.py)."""

from __future__ import annotations

from controlroom.local.cli_views import ApprovalRow, FireResult, IncidentRow
from controlroom.local.trace import flow_revisions, timeline, version_label
from controlroom.store import AuditVerification

# The timeline moved to controlroom.local.trace; these names stay importable from here for existing callers.
__all__ = ["approvals", "audit", "fired", "flow_revisions", "incidents", "timeline", "version_label"]


def _cell(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def duration(seconds: float) -> str:
    """``1h02m``, ``14m05s``, ``9s``: a span as an operator reads it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def incidents(rows: list[IncidentRow], status_filter: str | None = None) -> str:
    """The incident list, one line each, newest first; the end reason under the ones that ended."""
    if not rows:
        return f"no {status_filter} incidents" if status_filter else "no incidents yet"
    lines = [f"{'incident':<22} {'status':<17} {'opened':<20} {'updated':<20} alarm on resource"]
    for row in rows:
        lines.append(
            f"{row.incident_id:<22} {row.status:<17} {row.opened_at:%Y-%m-%d %H:%M:%S}Z "
            f"{row.updated_at:%Y-%m-%d %H:%M:%S}Z {row.alarm_name} on {row.resource}"
        )
        if row.end_reason:
            lines.append(f"{'':<22} ended: {_cell(row.end_reason, 110)}")
    return "\n".join(lines)


def fired(result: FireResult) -> str:
    """What `controlroom fire` started: the incident id per execution, and under --wait how it ended."""
    lines = []
    for execution in result.executions:
        what = f"incident {execution.incident_id}" if execution.incident_id else "no incident opened"
        lines.append(f"{what}: execution {execution.execution_arn}")
        if result.waited:
            why = f": {execution.reason}" if execution.reason else ""
            lines.append(f"  ended {execution.end_state} ({execution.status}){why}")
    if result.duplicate_of:
        lines.append(f"folded into the open incident {result.duplicate_of} as a duplicate: no new execution")
    return "\n".join(lines)


def approvals(rows: list[ApprovalRow], hidden_expired: int = 0) -> str:
    """Pending approvals: what each would allow, its risk, the votes and the time left to decide."""
    hidden = f" ({hidden_expired} expired approval(s) hidden; --all shows them)" if hidden_expired else ""
    if not rows:
        return "no pending approvals" + hidden
    lines = [f"{'approval':<36} {'incident':<21} {'risk':<6} {'votes':<5} {'left':<8} alarm / action"]
    for row in rows:
        left = "expired" if row.expired else duration(row.seconds_left)
        lines.append(
            f"{row.approval_id:<36} {row.incident_id:<21} {row.risk or '-':<6} "
            f"{row.approvals}/{row.required_approvals:<3} {left:<8} {row.alarm_name or '(no brief)'}"
        )
        lines.append(f"{'':<36} {_cell(row.action or 'the plan is not recorded', 100)}")
    if hidden:
        lines.append(hidden.strip(" ()"))
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
    if report.status == "not_found":
        return f"audit chain {report.chain_id}: not found: no audit record was written under this id"
    if report.status == "unkeyed":
        return (
            f"audit chain {report.chain_id}: UNKEYED, {report.records} records in the previous format "
            f"(schema_version 1): {report.reason}"
        )
    where = f" at record {report.first_bad_seq}" if report.first_bad_seq is not None else ""
    return f"audit chain {report.chain_id}: BROKEN{where}: {report.reason} ({report.records} records read)"
