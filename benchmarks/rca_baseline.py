"""Dev loop for the ranking: score ``rank_candidates`` straight on a loaded RCA dataset (no AWS).

``direct_ranking`` turns a loaded incident into the graph contracts the Evidence tools produce and
ranks it; ``baseline_ranking`` is the published ranked-correlation method (|Pearson r| of each
node's metric with the target's over the incident window, keeping only nodes anomalous against
normal operation). ``benchmarks/rca_petshop.py`` imports both. Run::

    PYTHONPATH=layers python benchmarks/rca_baseline.py [DIR]
"""

from __future__ import annotations

import fnmatch
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from controlroom.contracts.graph import (
    GraphChange,
    GraphChangeKind,
    GraphEdge,
    GraphMetrics,
    GraphNode,
    MetricWindow,
    NodeMetric,
    NodeMetricName,
    ServiceGraph,
)
from controlroom.diagnosis import rank_candidates
from controlroom.diagnosis.stats import pearson
from controlroom.local.rca_dataset import MetricTable, RcaIncident, load_dataset

# The development set sits in shared/ beside the checkout (a worktree may sit one level deeper).
DEFAULT_DIRS = [
    parent / "shared" / "datasets" / "petshop" for parent in Path(__file__).resolve().parents[2:4]
]
# The dataset's units (seconds, percent) to the contract's (ms, fraction).
UNIT = {"latency": 1000.0, "availability": 0.01, "requests": 1.0, "errors": 1.0}
METRICS: tuple[tuple[NodeMetricName, str], ...] = (
    ("latency", "Average"),
    ("availability", "Average"),
    ("requests", "Sum"),
)
# CloudTrail event name -> change kind and the node kinds it can belong to.
EVENT_KINDS: dict[str, tuple[GraphChangeKind, tuple[str, ...]]] = {
    "PutParameter": ("ssm_parameter", ()),
    "UpdateFunctionCode": ("lambda_code", ("lambda_function", "lambda_service")),
    "UpdateFunctionConfiguration": ("lambda_configuration", ("lambda_function", "lambda_service")),
    "UpdateAlias": ("lambda_alias", ("lambda_function", "lambda_service")),
    "UpdateService": ("ecs_service", ("ecs_service",)),
    "RegisterTaskDefinition": ("ecs_task_definition", ("ecs_service",)),
    "StartDeployment": ("appconfig_deployment", ()),
    "CreateDeployment": ("codedeploy_deployment", ()),
}


def _stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _series(
    table: MetricTable, node: str, metric: NodeMetricName, statistic: str, window: MetricWindow
) -> NodeMetric | None:
    column = table.series(node, metric, statistic)
    if column is None:
        return None
    pairs = [(t, v * UNIT[metric]) for t, v in zip(table.timestamps, column, strict=True) if v is not None]
    if not pairs:
        return None
    return NodeMetric(
        ref=f"graph-metric:{node}:{metric}:{window}",
        node_id=node,
        metric=metric,
        statistic=statistic,
        window=window,
        timestamps=[_stamp(t) for t, _ in pairs],
        values=[v for _, v in pairs],
    )


def incident_graph(incident: RcaIncident) -> ServiceGraph:
    """The incident's topology as the ``ServiceGraph`` contract (root = the alarmed node)."""
    scenario = incident.scenario
    nodes = [
        GraphNode(node_id=n, name=scenario.names.get(n, n), kind=scenario.kinds.get(n, "unknown"))
        for n in scenario.nodes
    ]
    edges = [GraphEdge(caller=a, callee=b) for a, b in scenario.edges]
    return ServiceGraph(source="declared", root=incident.target.node, nodes=nodes, edges=edges)


def incident_metrics(incident: RcaIncident) -> GraphMetrics:
    """Every node's latency, availability and requests, incident window and normal operation."""
    series: list[NodeMetric] = []
    no_data: list[str] = []
    for node in incident.scenario.nodes:
        found = False
        for metric, statistic in METRICS:
            if metric == incident.target.metric and node == incident.target.node:
                statistic = incident.target.agg
            for table, window in ((incident.metrics, "incident"), (incident.scenario.normal, "baseline")):
                made = _series(table, node, metric, statistic, window) if table is not None else None  # type: ignore[arg-type]
                if made is not None:
                    series.append(made)
                    found = found or window == "incident"
        if not found:
            no_data.append(node)
    return GraphMetrics(series=series, no_data=no_data)


def _change_nodes(incident: RcaIncident, event_name: str, resource: str) -> list[str]:
    scenario = incident.scenario
    if event_name == "PutParameter":
        return sorted(
            {
                n
                for pattern, readers in scenario.parameters.items()
                if fnmatch.fnmatch(resource, pattern)
                for n in readers
            }
        )
    short = resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    named = [n for n in scenario.nodes if scenario.names.get(n) in (resource, short)]
    kinds = EVENT_KINDS.get(event_name, ("ssm_parameter", ()))[1]
    fitting = [n for n in named if scenario.kinds.get(n) in kinds]
    return sorted(fitting or named)


def incident_changes(incident: RcaIncident) -> list[GraphChange]:
    """The change feed attributed to nodes (a parameter to the nodes that may read it)."""
    changes: list[GraphChange] = []
    for index, event in enumerate(incident.change_events):
        name = str(event.get("EventName", ""))
        kind = next((k for prefix, (k, _) in EVENT_KINDS.items() if name.startswith(prefix)), None)
        resources = event.get("Resources") or [{}]
        resource = str(resources[0].get("ResourceName", ""))
        if kind is None or not resource:
            continue
        changes.append(
            GraphChange(
                ref=f"graph-change:{kind}:{index}",
                kind=kind,
                event_name=name,
                resource_name=resource,
                changed_at=datetime.fromisoformat(str(event["EventTime"]).replace("Z", "+00:00")),
                node_ids=_change_nodes(incident, name, resource),
                actor=event.get("Username"),
            )
        )
    return changes


def direct_ranking(incident: RcaIncident, use_changes: bool) -> list[str]:
    """``rank_candidates`` on the incident, converted directly (no AWS): node ids, best first."""
    candidates = rank_candidates(
        incident_graph(incident),
        incident_metrics(incident),
        incident_changes(incident) if use_changes else (),
        alarm_metric=incident.target.metric,  # type: ignore[arg-type]
        alarm_statistic=incident.target.agg,
        alarm_at=_stamp(incident.target.timestamp) if incident.target.timestamp else None,
        limit=len(incident.scenario.nodes),
    )
    return [candidate.node_id for candidate in candidates]


def _anomalous(values: Sequence[float], normal: Sequence[float]) -> bool:
    if len(normal) < 2:
        return True  # no normal operation to judge against: every node stays in
    mean, spread = statistics.fmean(normal), statistics.pstdev(normal)
    return (
        any(abs(value - mean) > 3 * spread for value in values)
        if spread > 0
        else any(v != mean for v in values)
    )


def baseline_ranking(incident: RcaIncident) -> list[str]:
    """Ranked correlation: nodes anomalous against normal operation, by |r| with the target's metric."""
    target, table, normal = incident.target, incident.metrics, incident.scenario.normal
    target_column = table.series(target.node, target.metric, target.agg) or ()
    scored: list[tuple[float, str]] = []
    for node in incident.scenario.nodes:
        if node == target.node:
            continue
        column = table.series(node, target.metric, target.agg) or ()
        pairs = [
            (a, b) for a, b in zip(column, target_column, strict=False) if a is not None and b is not None
        ]
        normal_column = normal.series(node, target.metric, target.agg) if normal is not None else None
        normal_values = [v for v in (normal_column or ()) if v is not None]
        if len(pairs) < 3 or not _anomalous([a for a, _ in pairs], normal_values):
            continue
        scored.append((abs(pearson([a for a, _ in pairs], [b for _, b in pairs])), node))
    ranked = [node for _, node in sorted(scored, key=lambda item: (-item[0], item[1]))]
    return [*ranked, target.node]


def recall(
    incidents: Sequence[RcaIncident], ranker: Callable[[RcaIncident], list[str]]
) -> dict[str, dict[str, float]]:
    """recall@1 and @3 per scenario and over all (incidents with a known root cause only)."""
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for incident in incidents:
        if incident.root_cause is None:
            continue
        ranking = ranker(incident)
        hit = (incident.root_cause in ranking[:1], incident.root_cause in ranking[:3])
        hits[incident.scenario.name].append(hit)
        hits["all"].append(hit)
    return {
        scenario: {
            "n": len(rows),
            "recall@1": sum(r1 for r1, _ in rows) / len(rows),
            "recall@3": sum(r3 for _, r3 in rows) / len(rows),
        }
        for scenario, rows in hits.items()
    }


def main(argv: Sequence[str]) -> None:
    default = next((path for path in DEFAULT_DIRS if path.is_dir()), DEFAULT_DIRS[0])
    incidents = load_dataset(argv[0] if argv else default)
    rankers: dict[str, Callable[[RcaIncident], list[str]]] = {
        "controlroom, metrics only": lambda i: direct_ranking(i, use_changes=False),
        "controlroom, with changes": lambda i: direct_ranking(i, use_changes=True),
        "ranked correlation baseline": baseline_ranking,
    }
    for label, ranker in rankers.items():
        started = time.perf_counter()
        scores = recall(incidents, ranker)
        elapsed = (time.perf_counter() - started) / max(1, len(incidents))
        print(f"{label} ({elapsed * 1000:.0f} ms/incident incl. conversion)")
        for scenario, row in sorted(scores.items(), key=lambda item: (item[0] == "all", item[0])):
            print(
                f"  {scenario:<20} n={row['n']:<3} recall@1={row['recall@1']:.2f} recall@3={row['recall@3']:.2f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
