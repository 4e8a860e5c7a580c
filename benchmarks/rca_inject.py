"""Held-out proxy for the ranking: faults injected into real normal operation, on every node.

The development set has one cause only. Here a window of a scenario's normal operation (its
``noissue`` metrics: real noise, real topology) becomes the incident window, a latency fault is
added to one node from the window's middle on, and every caller on a path from the alarmed node
feels it, diluted by the share of its requests that reach the callee. Each reachable non-view
node with latency data takes a turn as the cause. Prints recall@1/@3 by the cause's kind::

    PYTHONPATH=layers python benchmarks/rca_inject.py [DIR] [--availability] [--changes] [--window=N --onset=K] [-v]

With ``--changes`` each incident also gets the cause's own change and a decoy change on one of
the nodes that feel the fault (a caller: the hardest place for a decoy).
"""

from __future__ import annotations

import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from controlroom.contracts.graph import GraphChange, GraphMetrics, NodeMetric
from controlroom.diagnosis import rank_candidates
from controlroom.diagnosis.stats import robust_scale
from controlroom.diagnosis.topology import reachable, topology
from controlroom.local.rca_dataset import MetricTable, RcaIncident, load_dataset
from rca_baseline import DEFAULT_DIRS, incident_graph

WINDOW = 5
ONSET = 2
STARTS = (60, 200, 340, 480)
ALARM_SIGMAS = 4.0


def _column(table: MetricTable, node: str, metric: str, stat: str) -> list[float | None]:
    return list(table.series(node, metric, stat) or [None] * len(table.timestamps))


def _median(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else 0.0


def _shifts(
    incident: RcaIncident, normal: MetricTable, cause: str, factor: float, metric: str
) -> dict[str, float]:
    """The fault at the cause and, diluted by request share, at every caller above it.

    Latency: the cause gets ``factor`` times its level slower. Availability: it loses 15 points.
    """
    callers: dict[str, list[str]] = defaultdict(list)
    for caller, callee in incident.scenario.edges:
        callers[callee].append(caller)
    level = _median(_column(normal, cause, "latency", "Average"))
    shifts = {cause: max(level * factor, 0.2) if metric == "latency" else 15.0}
    frontier = [cause]
    while frontier:
        node = frontier.pop()
        calls = _median(_column(normal, node, "requests", "Sum"))
        for caller in callers[node]:
            served = _median(_column(normal, caller, "requests", "Sum"))
            share = min(1.0, calls / served) if served > 0 else 1.0
            felt = shifts[node] * share
            if felt > shifts.get(caller, 0.0):
                shifts[caller] = felt
                frontier.append(caller)
    return shifts


def _alarm_fires(normal: MetricTable, root: str, shifts: dict[str, float], metric: str) -> bool:
    """True when the alarmed node's metric moves by at least ALARM_SIGMAS of its normal noise."""
    present = [v for v in _column(normal, root, metric, "Average") if v is not None]
    return shifts.get(root, 0.0) >= ALARM_SIGMAS * robust_scale(
        present, kind="rate" if metric == "availability" else "level"
    )


def _metrics(
    incident: RcaIncident, normal: MetricTable, start: int, shifts: dict[str, float], fault: str
) -> GraphMetrics:
    stamps = normal.timestamps
    series: list[NodeMetric] = []
    for (node, metric, stat), column in sorted(normal.columns.items()):
        if stat not in ("Average", "Sum") or metric not in ("latency", "availability", "requests"):
            continue
        unit = {"latency": 1000.0, "availability": 0.01}.get(metric, 1.0)
        for window, indices in (("incident", range(start, start + WINDOW)), ("baseline", range(len(stamps)))):
            if window == "baseline":
                indices = [i for i in indices if not start - 12 <= i < start + WINDOW + 12]
            points = [(stamps[i], column[i]) for i in indices if column[i] is not None]
            if not points:
                continue
            values = [v for _, v in points]
            if window == "incident" and metric == fault and node in shifts:
                sign = 1.0 if fault == "latency" else -1.0
                values = [v + (sign * shifts[node] if t >= stamps[start + ONSET] else 0.0) for t, v in points]
            series.append(
                NodeMetric(
                    ref=f"m:{node}:{metric}:{window}",
                    node_id=node,
                    metric=metric,  # type: ignore[arg-type]
                    statistic=stat,
                    window=window,  # type: ignore[arg-type]
                    timestamps=[datetime.fromtimestamp(t, tz=UTC) for t, _ in points],
                    values=[v * unit for v in values],
                )
            )
    return GraphMetrics(series=series)


def _changes(root: str, cause: str, affected: list[str], alarm_at: datetime, seed: int) -> list[GraphChange]:
    """The cause's own change 5 min before the alarm, and a decoy 4 min before on an affected caller."""
    decoys = [node for node in affected if node != cause] or [root]
    decoy = random.Random(seed).choice(decoys)
    return [
        GraphChange(
            ref=f"change:{name}",
            kind="lambda_code",
            event_name="UpdateFunctionCode",
            resource_name=name,
            changed_at=alarm_at - timedelta(minutes=minutes),
            node_ids=[node],
        )
        for name, node, minutes in (("cause", cause, 5), ("decoy", decoy, 4))
    ]


def main(argv: Sequence[str]) -> None:
    global WINDOW, ONSET
    for option in argv:
        if option.startswith("--window="):  # e.g. --window=15 --onset=12: production's 60 + 15 min
            WINDOW = int(option.split("=", 1)[1])
        if option.startswith("--onset="):
            ONSET = int(option.split("=", 1)[1])
    fault = "availability" if "--availability" in argv else "latency"
    with_changes = "--changes" in argv
    argv = [a for a in argv if not a.startswith("-")] + [a for a in argv if a == "-v"]
    root = argv[0] if argv and argv[0] != "-v" else next(p for p in DEFAULT_DIRS if p.is_dir())
    by_scenario = {i.scenario.name: i for i in load_dataset(root) if i.scenario.normal is not None}
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    misses: list[str] = []
    for incident in by_scenario.values():
        normal = incident.scenario.normal
        assert normal is not None
        graph = incident_graph(incident)
        kinds = {n.node_id: n.kind for n in graph.nodes}
        for cause in sorted(reachable(topology(graph), graph.root)):
            if (
                kinds.get(cause) in ("remote", "client")
                or _median(_column(normal, cause, "latency", "Average")) <= 0
            ):
                continue
            shifts = _shifts(incident, normal, cause, factor=3.0, metric=fault)
            if not _alarm_fires(normal, graph.root, shifts, fault):
                continue  # the front end would not notice: no incident to diagnose
            for start in STARTS:
                metrics = _metrics(incident, normal, start, shifts, fault)
                alarm_at = datetime.fromtimestamp(normal.timestamps[start + ONSET], tz=UTC)
                changes = _changes(graph.root, cause, sorted(shifts), alarm_at, start) if with_changes else []
                ranked = rank_candidates(
                    graph, metrics, changes, alarm_metric=fault, alarm_at=alarm_at, limit=3
                )  # type: ignore[arg-type]
                ids = [c.node_id for c in ranked]
                hits[kinds.get(cause, "unknown")].append((ids[:1] == [cause], cause in ids))
                hits["all"].append(hits[kinds.get(cause, "unknown")][-1])
                if ids[:1] != [cause]:
                    misses.append(f"{incident.scenario.name} start={start} cause={cause} got={ids}")
    for kind, rows in sorted(hits.items(), key=lambda item: (item[0] == "all", item[0])):
        r1, r3 = sum(a for a, _ in rows) / len(rows), sum(b for _, b in rows) / len(rows)
        print(f"{kind:<20} n={len(rows):<4} recall@1={r1:.2f} recall@3={r3:.2f}")
    if "-v" in argv:
        print("\n".join(misses))


if __name__ == "__main__":
    main(sys.argv[1:])
