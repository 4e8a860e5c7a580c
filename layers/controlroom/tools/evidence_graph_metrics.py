"""Evidence tool: every graph node's latency, errors, availability and requests (batched GetMetricData).

Which CloudWatch metrics represent a node depends on its kind (see ``metric_sources``):

=================  ===================  ==================================  ==============================
node kind          namespace            dimensions                          metrics (statistic) -> series
=================  ===================  ==================================  ==============================
lambda_function    AWS/Lambda           FunctionName                        Duration (Average) -> latency;
                                                                            Invocations (Sum) -> requests;
                                                                            Errors/Invocations -> errors,
                                                                            1 - that -> availability
dynamodb_table     AWS/DynamoDB         TableName                           SuccessfulRequestLatency
                                                                            (Average) -> latency, its
                                                                            SampleCount -> requests;
                                                                            SystemErrors/requests -> errors
any other kind     ApplicationSignals   Service (node name), Environment    Latency (Average) -> latency,
                                                                            its SampleCount -> requests;
                                                                            Fault (Average) -> errors;
                                                                            Availability (Average, %)
                                                                            -> availability / 100
=================  ===================  ==================================  ==============================

Application Signals keys a service by (Service, Environment). The alarmed node uses the alarm's own
dimensions; any other node's Environment is ``<platform>:default`` by its kind (``eks``, ``ecs``,
``lambda``, ``api-gateway``, else ``generic``), Application Signals' default for a platform without
a named cluster. A node whose metrics live elsewhere shows up in ``no_data``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlroom.contracts.graph import GraphMetrics, MetricWindow, NodeMetric, ServiceGraph
from controlroom.contracts.incident import AlarmSummary

MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit
MAX_POINTS = 1500
_MAX_PAGES = 10
_PLATFORM_OF_KIND = {
    "eks_service": "eks",
    "ecs_service": "ecs",
    "lambda_service": "lambda",
    "api_gateway_stage": "api-gateway",
}


@dataclass(frozen=True)
class Source:
    """One CloudWatch metric statistic of a node, and the series it becomes."""

    key: str  # latency, requests, errors, availability, or error_count (divided by requests)
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str


def application_signals_dimensions(node_kind: str, name: str) -> dict[str, str]:
    """(Service, Environment) of a node that is not the alarmed one (see the module docstring)."""
    return {"Service": name, "Environment": f"{_PLATFORM_OF_KIND.get(node_kind, 'generic')}:default"}


def metric_sources(node_kind: str, name: str, alarm_dimensions: dict[str, str] | None = None) -> list[Source]:
    """The CloudWatch metrics that represent a node of ``node_kind`` (the module docstring's table).

    Parameters
    ----------
    alarm_dimensions
        For the alarmed node, the alarm's dimensions: its metrics are read exactly where the alarm reads.
    """
    if node_kind == "lambda_function":
        dims: tuple[tuple[str, str], ...] = (("FunctionName", name),)
        return [
            Source("latency", "AWS/Lambda", "Duration", dims, "Average"),
            Source("requests", "AWS/Lambda", "Invocations", dims, "Sum"),
            Source("error_count", "AWS/Lambda", "Errors", dims, "Sum"),
        ]
    if node_kind == "dynamodb_table":
        dims = (("TableName", name),)
        return [
            Source("latency", "AWS/DynamoDB", "SuccessfulRequestLatency", dims, "Average"),
            Source("requests", "AWS/DynamoDB", "SuccessfulRequestLatency", dims, "SampleCount"),
            Source("error_count", "AWS/DynamoDB", "SystemErrors", dims, "Sum"),
        ]
    given = alarm_dimensions if alarm_dimensions and "Service" in alarm_dimensions else None
    dims = tuple(sorted((given or application_signals_dimensions(node_kind, name)).items()))
    return [
        Source("latency", "ApplicationSignals", "Latency", dims, "Average"),
        Source("requests", "ApplicationSignals", "Latency", dims, "SampleCount"),
        Source("errors", "ApplicationSignals", "Fault", dims, "Average"),
        Source("availability", "ApplicationSignals", "Availability", dims, "Average"),
    ]


def graph_sources(graph: ServiceGraph, alarm: AlarmSummary) -> dict[str, list[Source]]:
    """node_id -> its metric sources, for every node of the graph."""
    return {
        node.node_id: metric_sources(
            node.kind, node.name, alarm.dimensions if node.node_id == graph.root else None
        )
        for node in graph.nodes
    }


def _query(query_id: str, source: Source, period: int) -> dict[str, Any]:
    return {
        "Id": query_id,
        "ReturnData": True,
        "MetricStat": {
            "Metric": {
                "Namespace": source.namespace,
                "MetricName": source.metric_name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in source.dimensions],
            },
            "Period": period,
            "Stat": source.stat,
        },
    }


Points = dict[datetime, float]


def fetch_window(
    cloudwatch: Any, sources: list[tuple[str, Source]], start: datetime, end: datetime, period: int
) -> list[Points]:
    """The datapoints of each source over [start, end], in at most 500 queries per GetMetricData call."""
    found: list[Points] = [{} for _ in sources]
    for offset in range(0, len(sources), MAX_QUERIES_PER_CALL):
        batch = sources[offset : offset + MAX_QUERIES_PER_CALL]
        request: dict[str, Any] = {
            "MetricDataQueries": [
                _query(f"q{offset + index}", source, period) for index, (_, source) in enumerate(batch)
            ],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        for _ in range(_MAX_PAGES):
            response = cloudwatch.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                points = found[int(str(result["Id"])[1:])]
                for timestamp, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    points[timestamp] = float(value)
            if not response.get("NextToken"):
                break
            request["NextToken"] = response["NextToken"]
    return found


def _derive(raw: dict[str, Points]) -> dict[str, Points]:
    """latency/requests/errors/availability from the raw statistics (error counts become rates)."""
    series = {key: points for key, points in raw.items() if key != "error_count" and points}
    if "availability" in series:  # Application Signals reports availability in percent
        series["availability"] = {t: value / 100.0 for t, value in series["availability"].items()}
    counts, requests = raw.get("error_count", {}), raw.get("requests", {})
    if counts and requests:
        series["errors"] = {t: counts[t] / requests[t] for t in sorted(counts) if requests.get(t)}
    if "availability" not in series and series.get("errors"):
        series["availability"] = {t: 1.0 - rate for t, rate in series["errors"].items()}
    return {key: points for key, points in series.items() if points}


def _statistic(sources: Iterable[Source], key: str) -> str:
    stats = {s.key: s.stat for s in sources}
    return "Sum" if key == "requests" and stats.get(key) == "SampleCount" else stats.get(key, "Average")


def fetch_graph_metrics(
    cloudwatch: Any,
    graph: ServiceGraph,
    alarm: AlarmSummary,
    windows: dict[MetricWindow, tuple[datetime, datetime]],
    period: int = 300,
) -> GraphMetrics:
    """Each node's series per window (refs ``graph-metric:<node>:<metric>:<window>``) and ``no_data``.

    Parameters
    ----------
    windows
        ``{"incident": (start, end), "baseline": (start, end)}``; one or more GetMetricData calls each.
    """
    per_node = graph_sources(graph, alarm)
    flat = [(node_id, source) for node_id, sources in per_node.items() for source in sources]
    series: list[NodeMetric] = []
    with_data: set[str] = set()
    for window, (start, end) in windows.items():
        fetched = fetch_window(cloudwatch, flat, start, end, period)
        raw: dict[str, dict[str, Points]] = {}
        for (node_id, source), points in zip(flat, fetched, strict=True):
            raw.setdefault(node_id, {})[source.key] = points
        for node_id in per_node:
            for metric, points in sorted(_derive(raw.get(node_id, {})).items()):
                with_data.add(node_id)
                stamps = sorted(points)[-MAX_POINTS:]
                series.append(
                    NodeMetric(
                        ref=f"graph-metric:{node_id}:{metric}:{window}",
                        node_id=node_id,
                        metric=metric,  # type: ignore[arg-type]
                        statistic=_statistic(per_node[node_id], metric),
                        window=window,
                        period_seconds=period,
                        timestamps=stamps,
                        values=[points[t] for t in stamps],
                    )
                )
    return GraphMetrics(series=series, no_data=sorted(set(per_node) - with_data))
