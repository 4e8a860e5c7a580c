"""Serve one RCA dataset incident as the AWS APIs the Evidence tools call.

CloudWatch is moto's (the metrics are put where ``evidence_graph_metrics.metric_sources`` reads
them, so the production tool finds them as it would in AWS); X-Ray GetServiceGraph and CloudTrail
LookupEvents, which moto 5.2.5 lacks, are small stubs answering from the dataset through botocore's
``before-call`` hook, so boto3 still validates every request. Normal operation (``noissue``) was
recorded on other days: its last rows are moved to end where the Evidence baseline window ends, as
an account that ran normally before the incident would hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from controlroom.contracts.graph import GraphNode
from controlroom.local.rca_dataset import MetricTable, RcaIncident, RcaScenario
from controlroom.tools.evidence_common import parse_aws_timestamp
from controlroom.tools.evidence_graph import nodes_and_edges
from controlroom.tools.evidence_graph_metrics import Source, metric_sources

REGION, ACCOUNT = "us-west-2", "123456789012"
_PUT_BATCH = 500
_TRAIL_PAGE = 50


def xray_services(scenario: RcaScenario) -> list[dict[str, Any]]:
    """GetServiceGraph's ``Services`` for a scenario: X-Ray name and type split back out of each node id."""
    reference = {node: index for index, node in enumerate(scenario.nodes)}
    callees: dict[str, list[str]] = {}
    for caller, callee in scenario.edges:
        callees.setdefault(caller, []).append(callee)
    services = []
    for node, index in reference.items():
        name = scenario.names.get(node, node)
        xray_type = node[len(name) + 1 :] if node.startswith(name + "_") else None
        service: dict[str, Any] = {
            "ReferenceId": index,
            "Name": name,
            "Names": [name],
            "AccountId": ACCOUNT,
            "Edges": [{"ReferenceId": reference[c]} for c in callees.get(node, []) if c in reference],
        }
        if xray_type:
            service["Type"] = xray_type
        services.append(service)
    return services


@dataclass
class CallCounter:
    """AWS API calls made by the Evidence tools, by ``service.Operation``."""

    calls: dict[str, int] = field(default_factory=dict)

    def __call__(self, event_name: str, **_: Any) -> None:
        operation = ".".join(event_name.split(".")[1:3])
        self.calls[operation] = self.calls.get(operation, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def _lookup_events(events: list[dict[str, Any]]) -> Callable[..., Any]:
    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        sources = {
            a["AttributeValue"]
            for a in params.get("LookupAttributes", [])
            if a["AttributeKey"] == "EventSource"
        }
        start, end = params.get("StartTime"), params.get("EndTime")
        found = [
            event
            for event in events
            if (not sources or event.get("EventSource") in sources)
            and (start is None or parse_aws_timestamp(start) <= parse_aws_timestamp(event["EventTime"]))
            and (end is None or parse_aws_timestamp(event["EventTime"]) <= parse_aws_timestamp(end))
        ]
        found.sort(key=lambda event: parse_aws_timestamp(event["EventTime"]), reverse=True)
        offset = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or _TRAIL_PAGE)
        page: dict[str, Any] = {"Events": [_trail_event(e) for e in found[offset : offset + size]]}
        if offset + size < len(found):
            page["NextToken"] = str(offset + size)
        return _http_ok(), page

    return answer


def _trail_event(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "EventTime": parse_aws_timestamp(event["EventTime"])}


def _http_ok() -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://stub.local/", 200, {}, None)


def stub_client(service: str, answers: dict[str, Callable[..., Any]], counter: CallCounter) -> Any:
    """A real boto3 client whose listed operations are answered locally (request validation kept)."""
    client = boto3.client(service, region_name=REGION)
    service_id = client.meta.service_model.service_id.hyphenize()

    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialised request; the answer needs the validated parameters.
        context["stub_params"] = dict(params)

    for operation, answer in answers.items():
        client.meta.events.register(f"before-parameter-build.{service_id}.{operation}", keep_params)
        client.meta.events.register(
            f"before-call.{service_id}.{operation}",
            lambda context, answer=answer, **_: answer(context["stub_params"]),
        )
    client.meta.events.register("before-parameter-build.*.*", counter)
    return client


def _xray_answer(services: list[dict[str, Any]]) -> Callable[..., Any]:
    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        return _http_ok(), {
            "Services": services,
            "StartTime": params["StartTime"],
            "EndTime": params["EndTime"],
        }

    return answer


def _values(table: MetricTable, node: str, metric: str, statistic: str) -> list[float | None]:
    return list(table.series(node, metric, statistic) or [None] * len(table.timestamps))


def _datums(source: Source, latency: float | None, requests: float | None, availability: float | None) -> Any:
    """The one datum ``source`` holds for a period, from the dataset's latency (s), requests, availability (%)."""
    dimensions = [{"Name": k, "Value": v} for k, v in source.dimensions]
    base = {"MetricName": source.metric_name, "Dimensions": dimensions}
    if source.metric_name in ("Latency", "SuccessfulRequestLatency") and source.stat == "Average":
        if latency is None:
            return None
        count = requests if requests else 1.0
        ms = latency * 1000.0
        return {
            **base,
            "StatisticValues": {"SampleCount": count, "Sum": ms * count, "Minimum": ms, "Maximum": ms},
        }
    if source.metric_name == "Duration":
        return None if latency is None else {**base, "Value": latency * 1000.0}
    if source.metric_name == "Invocations":
        return None if requests is None else {**base, "Value": requests}
    if source.metric_name in ("Errors", "SystemErrors"):
        if requests is None or availability is None:
            return None
        return {**base, "Value": requests * (1.0 - availability / 100.0)}
    if source.metric_name == "Availability":
        return None if availability is None else {**base, "Value": availability}
    return None  # Fault, and the SampleCount twin of a latency source: carried by the datums above


def put_metrics(
    cloudwatch: Any, table: MetricTable, sources: dict[str, list[Source]], shift_seconds: float, rows: slice
) -> int:
    """Put the table's rows (``rows``) for every node, each at its timestamp plus ``shift_seconds``."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    stamps = table.timestamps[rows]
    for node, node_sources in sources.items():
        latency = _values(table, node, "latency", "Average")[rows]
        requests = _values(table, node, "requests", "Sum")[rows]
        availability = _values(table, node, "availability", "Average")[rows]
        for source in node_sources:
            for index, stamp in enumerate(stamps):
                datum = _datums(source, latency[index], requests[index], availability[index])
                if datum is not None:
                    moment = datetime.fromtimestamp(stamp + shift_seconds, tz=UTC)
                    by_namespace.setdefault(source.namespace, []).append({**datum, "Timestamp": moment})
    put = 0
    for namespace, datums in by_namespace.items():
        for offset in range(0, len(datums), _PUT_BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[offset : offset + _PUT_BATCH])
        put += len(datums)
    return put


def graph_nodes(scenario: RcaScenario) -> list[GraphNode]:
    """The nodes the production topology tool makes of the served X-Ray graph."""
    return nodes_and_edges(xray_services(scenario), REGION, ACCOUNT)[0]


def serve_metrics(
    cloudwatch: Any,
    incident: RcaIncident,
    root: str,
    alarm_dimensions: dict[str, str],
    baseline: tuple[datetime, datetime],
    period: int,
) -> None:
    """Put the incident's metrics, and normal operation moved into the baseline window, into CloudWatch."""
    sources = {
        node.node_id: metric_sources(node.kind, node.name, alarm_dimensions if node.node_id == root else None)
        for node in graph_nodes(incident.scenario)
    }
    put_metrics(cloudwatch, incident.metrics, sources, 0.0, slice(None))
    normal = incident.scenario.normal
    if normal is None or not normal.timestamps:
        return
    length = int((baseline[1] - baseline[0]).total_seconds() // period)
    rows = slice(max(0, len(normal.timestamps) - length), None)
    shift = baseline[1].timestamp() - period - normal.timestamps[-1]
    put_metrics(cloudwatch, normal, sources, shift - shift % period, rows)


def clients_for(incident: RcaIncident, counter: CallCounter, with_changes: bool) -> Callable[[str], Any]:
    """``service -> client`` for the Evidence tools: moto for what moto has, stubs for X-Ray and CloudTrail."""
    stubs = {
        "xray": stub_client(
            "xray", {"GetServiceGraph": _xray_answer(xray_services(incident.scenario))}, counter
        ),
        "cloudtrail": stub_client(
            "cloudtrail",
            {"LookupEvents": _lookup_events(list(incident.change_events) if with_changes else [])},
            counter,
        ),
    }
    cache: dict[str, Any] = {}

    def clients(service: str) -> Any:
        if service in stubs:
            return stubs[service]
        if service not in cache:
            cache[service] = boto3.client(service, region_name=REGION)
            cache[service].meta.events.register("before-parameter-build.*.*", counter)
        return cache[service]

    return clients


@contextmanager
def indexed_metric_reads() -> Iterator[None]:
    """Make moto's GetMetricData answer each (metric, dimensions) group from that group's datapoints.

    moto 5.2 scans every stored datapoint for every query and period (queries x periods x points): a
    graph's 500 queries over a baseline took seconds. Grouping gives the same results, since moto keeps
    only a query's own metric name and exact dimensions; anything else (an expression, a query without
    dimensions) goes through moto unchanged.
    """
    import moto
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_metric_data
    if not moto.__version__.startswith("5."):
        yield
        return

    def grouped(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        def key(query: dict[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
            metric = query["MetricStat"]["Metric"]
            return metric["MetricName"], frozenset(
                (d["Name"], d["Value"]) for d in metric.get("Dimensions", [])
            )

        if any("MetricStat" not in q or not q["MetricStat"]["Metric"].get("Dimensions") for q in queries):
            return original(self, queries, start_time, end_time, scan_by)  # type: ignore[no-any-return]
        stored: dict[tuple[str, frozenset[tuple[str, str]]], list[Any]] = {}
        for datum in self.get_all_metrics():
            stored.setdefault(
                (datum.name, frozenset((d.name, d.value) for d in datum.dimensions)), []
            ).append(datum)
        groups: dict[tuple[str, frozenset[tuple[str, str]]], list[dict[str, Any]]] = {}
        for query in queries:
            groups.setdefault(key(query), []).append(query)
        answers: dict[str, dict[str, Any]] = {}
        for group_key, group in groups.items():
            own = stored.get(group_key, [])
            self.get_all_metrics = lambda own=own: own
            try:
                answers.update({r["id"]: r for r in original(self, group, start_time, end_time, scan_by)})
            finally:
                del self.get_all_metrics
        return [answers[q["Id"]] for q in queries if q["Id"] in answers]

    CloudWatchBackend.get_metric_data = grouped  # type: ignore[method-assign]
    try:
        yield
    finally:
        CloudWatchBackend.get_metric_data = original  # type: ignore[method-assign]
