"""Evidence tool: the alarm's metric series over the evidence window (GetMetricData)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlroom.contracts import MetricSeries
from controlroom.contracts.incident import AlarmSummary, MetricQuery
from controlroom.tools.evidence_common import NotApplicable

MAX_POINTS_PER_SERIES = 360
_MAX_PAGES = 10


def metric_data_queries(queries: list[MetricQuery]) -> list[dict[str, Any]]:
    """GetMetricData queries for the alarm's metrics, expressions included.

    Every query returns data, also the inputs of an expression: the diagnosis can then cite them.
    """
    built: list[dict[str, Any]] = []
    for query in queries:
        entry: dict[str, Any] = {"Id": query.id, "ReturnData": True}
        if query.label:
            entry["Label"] = query.label
        if query.expression:
            entry["Expression"] = query.expression
            if query.period:
                entry["Period"] = query.period
        else:
            entry["MetricStat"] = {
                "Metric": {
                    "Namespace": query.namespace,
                    "MetricName": query.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(query.dimensions.items())],
                },
                "Period": query.period or 60,
                "Stat": query.stat or "Average",
            }
        built.append(entry)
    return built


def fetch_metric_series(
    cloudwatch: Any, alarm: AlarmSummary, start: datetime, end: datetime
) -> list[MetricSeries]:
    """One MetricSeries per query (ref ``metric:<id>``), the latest 360 points of each at most.

    Raises
    ------
    NotApplicable
        For composite alarms, which have no metrics of their own.
    """
    if alarm.kind == "composite" or not alarm.metric_queries:
        raise NotApplicable(
            f"{alarm.kind} alarm {alarm.alarm_name} has no metric queries of its own"
            + (f" (rule: {alarm.alarm_rule})" if alarm.alarm_rule else "")
        )
    request: dict[str, Any] = {
        "MetricDataQueries": metric_data_queries(alarm.metric_queries),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    # Keyed by id and label: an anomaly band may come back as two results (upper, lower) under one id.
    points: dict[tuple[str, str], tuple[list[datetime], list[float]]] = {}
    for _ in range(_MAX_PAGES):
        response = cloudwatch.get_metric_data(**request)
        for result in response.get("MetricDataResults", []):
            key = (result["Id"], result.get("Label") or result["Id"])
            timestamps, values = points.setdefault(key, ([], []))
            timestamps.extend(result.get("Timestamps", []))
            values.extend(float(value) for value in result.get("Values", []))
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    return _to_series(points)


def _to_series(points: dict[tuple[str, str], tuple[list[datetime], list[float]]]) -> list[MetricSeries]:
    series: list[MetricSeries] = []
    seen: dict[str, int] = {}
    for (query_id, label), (timestamps, values) in points.items():
        seen[query_id] = seen.get(query_id, 0) + 1
        ref = f"metric:{query_id}" if seen[query_id] == 1 else f"metric:{query_id}:{seen[query_id]}"
        series.append(
            MetricSeries(
                ref=ref,
                label=label,
                timestamps=timestamps[-MAX_POINTS_PER_SERIES:],
                values=values[-MAX_POINTS_PER_SERIES:],
            )
        )
    return series
