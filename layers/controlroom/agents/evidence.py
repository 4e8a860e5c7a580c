"""The Evidence agent: read-only research around the alarm; a failing tool degrades, never aborts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sized
from datetime import datetime, timedelta
from typing import Any, TypeVar

from controlroom import aws
from controlroom.contracts import EvidenceBundle, IncidentRef, LogSample, MissingEvidence
from controlroom.contracts.flow.base import EvidenceInput
from controlroom.contracts.graph import GraphChange, GraphMetrics, MetricWindow, ServiceGraph
from controlroom.errors import TimeBudgetExceeded
from controlroom.runtime import AgentContext, AgentSpec
from controlroom.settings import Settings
from controlroom.tools.evidence_changes import fetch_changes
from controlroom.tools.evidence_common import NotApplicable
from controlroom.tools.evidence_graph import fetch_service_graph
from controlroom.tools.evidence_graph_metrics import fetch_graph_metrics
from controlroom.tools.evidence_graph_versions import function_versions
from controlroom.tools.evidence_logs import fetch_log_samples, log_group_of
from controlroom.tools.evidence_metrics import fetch_metric_series
from controlroom.tools.evidence_tags import fetch_resource_tags
from controlroom.tools.evidence_trail import fetch_graph_changes

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


def graph_windows(fired_at: datetime, settings: Settings) -> dict[MetricWindow, tuple[datetime, datetime]]:
    """The incident window (the evidence window, to GRAPH_AFTER_ALARM_MINUTES past the alarm) and the
    baseline: GRAPH_BASELINE_MINUTES long, ending GRAPH_BASELINE_OFFSET_MINUTES before the incident's."""
    start = fired_at - timedelta(minutes=settings.EVIDENCE_WINDOW_MINUTES)
    baseline_end = start - timedelta(minutes=settings.GRAPH_BASELINE_OFFSET_MINUTES)
    return {
        "incident": (start, fired_at + timedelta(minutes=settings.GRAPH_AFTER_ALARM_MINUTES)),
        "baseline": (baseline_end - timedelta(minutes=settings.GRAPH_BASELINE_MINUTES), baseline_end),
    }


def parameter_readers(settings: Settings) -> dict[str, list[str]]:
    """GRAPH_PARAMETER_READERS as a map; a malformed value fails the change feed (missing evidence)."""
    if not settings.GRAPH_PARAMETER_READERS.strip():
        return {}
    declared = json.loads(settings.GRAPH_PARAMETER_READERS)
    if not isinstance(declared, dict) or not all(isinstance(v, list) for v in declared.values()):
        raise ValueError("GRAPH_PARAMETER_READERS must map patterns to lists of node ids or names")
    return {str(pattern): [str(name) for name in names] for pattern, names in declared.items()}


def _graph_evidence(
    incident: IncidentRef, ctx: AgentContext, clients: Callable[[str], Any], missing: list[MissingEvidence]
) -> tuple[ServiceGraph | None, GraphMetrics | None, list[GraphChange]]:
    """Topology, then every reachable node's metrics and the change feed over that graph."""
    settings, fired_at = ctx.settings, incident.alarm.fired_at
    windows = graph_windows(fired_at, settings)
    start, end = windows["incident"]

    def topology() -> list[ServiceGraph]:
        return [fetch_service_graph(clients("xray"), incident, start, end, settings.GRAPH_TOPOLOGY)]

    graphs = _gather(ctx, "graph", missing, topology)
    if not graphs:
        return None, None, []
    graph = graphs[0]

    def node_metrics() -> list[GraphMetrics]:
        period = settings.GRAPH_PERIOD_SECONDS
        return [fetch_graph_metrics(clients("cloudwatch"), graph, incident.alarm, windows, period)]

    def node_changes() -> list[GraphChange]:
        change_start = fired_at - timedelta(minutes=settings.GRAPH_CHANGE_WINDOW_MINUTES)
        return fetch_graph_changes(clients, graph, change_start, fired_at, parameter_readers(settings))

    metrics = _gather(ctx, "graph_metrics", missing, node_metrics)
    changes = _gather(ctx, "graph_changes", missing, node_changes)
    return graph, metrics[0] if metrics else None, changes or []


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summarise_bundle(bundle: EvidenceBundle) -> str:
    """E.g. "3 series, 4 log lines, 1 change, graph of 5 nodes (1 without data), 2 graph changes, 1 missing"."""
    graph = ""
    if bundle.graph is not None:
        no_data = len(bundle.graph_metrics.no_data) if bundle.graph_metrics else len(bundle.graph.nodes)
        graph = (
            f"graph of {_plural(len(bundle.graph.nodes), 'node')} ({no_data} without data), "
            f"{_plural(len(bundle.graph_changes), 'graph change')}, "
        )
    return (
        f"{len(bundle.metrics)} series, "
        f"{_plural(len(bundle.logs), 'log line')}, {_plural(len(bundle.changes), 'change')}, "
        f"{graph}{len(bundle.missing)} missing"
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
    graph, graph_metrics, graph_changes = _graph_evidence(incident, ctx, clients, missing)
    if graph is not None:
        graph_start = fired_at - timedelta(minutes=settings.GRAPH_CHANGE_WINDOW_MINUTES)
        found = _gather(
            ctx,
            "graph_function_versions",
            missing,
            lambda: [function_versions(clients("lambda"), incident, graph, graph_changes, graph_start)],
        )
        if found:
            changes = [*(changes or []), *found[0][0]]
            graph_changes = [*graph_changes, *found[0][1]]
    return EvidenceBundle(
        window_start=start,
        window_end=end,
        metrics=metrics or [],
        logs=logs or [],
        changes=changes or [],
        resource_tags=tags or {},
        missing=missing,
        graph=graph,
        graph_metrics=graph_metrics,
        graph_changes=graph_changes,
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
