"""Plain-text views for the CLI: approvals and audit verification (the timeline is in local/trace.py)."""

from __future__ import annotations

from controlroom.contracts import ApprovalRecord
from controlroom.local.trace import flow_revisions, timeline, version_label
from controlroom.store import AuditVerification

# The timeline moved to controlroom.local.trace; these names stay importable from here for existing callers.
__all__ = ["approvals", "audit", "flow_revisions", "timeline", "version_label"]


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
