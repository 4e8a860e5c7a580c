"""The Evidence agent: read-only research around the alarm; a failing tool degrades, never aborts."""

from __future__ import annotations

from collections.abc import Callable, Sized
from datetime import datetime, timedelta
from typing import Any, TypeVar

from controlroom import aws
from controlroom.contracts import EvidenceBundle, IncidentRef, LogSample, MissingEvidence
from controlroom.contracts.flow import EvidenceInput
from controlroom.errors import TimeBudgetExceeded
from controlroom.runtime import AgentContext, AgentSpec
from controlroom.tools.evidence_changes import fetch_changes
from controlroom.tools.evidence_common import NotApplicable
from controlroom.tools.evidence_logs import fetch_log_samples, log_group_of
from controlroom.tools.evidence_metrics import fetch_metric_series
from controlroom.tools.evidence_tags import fetch_resource_tags

T = TypeVar("T", bound=Sized)

AFTER_ALARM = timedelta(minutes=5)
# Each tool gets this much budget, so the bundle is still returned before the deadline.
_TOOL_SECONDS = 1.0


def _gather(
    ctx: AgentContext,
    tool: str,
    missing: list[MissingEvidence],
    fetch: Callable[[], T],
) -> T | None:
    """Run one tool; turn any failure into a MissingEvidence entry (the time budget still aborts)."""
    ctx.check_time(_TOOL_SECONDS)
    try:
        with ctx.tool(tool) as call:
            found = fetch()
            call.summary = f"{len(found)} found"
        return found
    except TimeBudgetExceeded:
        raise
    except NotApplicable as exc:
        missing.append(MissingEvidence(tool=tool, error_type="NotApplicable", message=str(exc)[:500]))
    except Exception as exc:
        missing.append(MissingEvidence(tool=tool, error_type=type(exc).__name__, message=str(exc)[:500]))
    return None


def evidence_window(fired_at: datetime, evidence_minutes: int) -> tuple[datetime, datetime]:
    """[fired_at - EVIDENCE_WINDOW_MINUTES, fired_at + 5 min]."""
    return fired_at - timedelta(minutes=evidence_minutes), fired_at + AFTER_ALARM


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summarise_bundle(bundle: EvidenceBundle) -> str:
    """E.g. "3 series, 4 log lines, 1 change, 1 missing"."""
    return (
        f"{len(bundle.metrics)} series, "
        f"{_plural(len(bundle.logs), 'log line')}, {_plural(len(bundle.changes), 'change')}, "
        f"{len(bundle.missing)} missing"
    )


def collect_evidence(
    incident: IncidentRef, ctx: AgentContext, clients: Callable[[str], Any]
) -> EvidenceBundle:
    """Metrics, logs, changes and tags for the incident; what could not be read is listed in ``missing``."""
    settings = ctx.settings
    fired_at = incident.alarm.fired_at
    start, end = evidence_window(fired_at, settings.EVIDENCE_WINDOW_MINUTES)
    change_start = fired_at - timedelta(minutes=settings.CHANGE_WINDOW_MINUTES)
    resource = incident.resource
    missing: list[MissingEvidence] = []
    alarm, account, region = incident.alarm, incident.account, incident.region

    def log_lines() -> list[LogSample]:
        return fetch_log_samples(
            clients("logs"), log_group_of(resource, settings.LOG_GROUP_PREFIX), start, end
        )

    metrics = _gather(
        ctx, "metrics", missing, lambda: fetch_metric_series(clients("cloudwatch"), alarm, start, end)
    )
    logs = _gather(ctx, "logs", missing, log_lines)
    changes = _gather(
        ctx, "changes", missing, lambda: fetch_changes(clients, resource, change_start, fired_at)
    )
    tags = _gather(ctx, "tags", missing, lambda: fetch_resource_tags(clients, resource, account, region))
    return EvidenceBundle(
        window_start=start,
        window_end=end,
        metrics=metrics or [],
        logs=logs or [],
        changes=changes or [],
        resource_tags=tags or {},
        missing=missing,
    )


def evidence(request: EvidenceInput, ctx: AgentContext) -> EvidenceBundle:
    """The Evidence agent's logic: collect the bundle with the process's cached AWS clients."""
    bundle = collect_evidence(request.incident, ctx, aws.client)
    ctx.summary = summarise_bundle(bundle)
    return bundle


EVIDENCE: AgentSpec[EvidenceInput, EvidenceBundle] = AgentSpec(
    name="evidence",
    input_model=EvidenceInput,
    output_model=EvidenceBundle,
    logic=evidence,
    summarise=summarise_bundle,
)
