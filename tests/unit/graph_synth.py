"""Synthetic service graphs with an injected fault, for the ranking's unit tests.

A fault is a shift of some metrics of some nodes from an onset point on; the tests say which
nodes carry which share of it (callers see their callee's latency, views carry their callee's).
Noise is seeded so every test is deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from controlroom.contracts.graph import (
    GraphChange,
    GraphEdge,
    GraphMetrics,
    GraphNode,
    NodeMetric,
    NodeMetricName,
    ServiceGraph,
)

ALARM_AT = datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
PERIOD = timedelta(minutes=5)
WINDOW_POINTS = 6
ONSET_INDEX = 3  # the window's points 3..5 are at or after the alarm
BASELINE_POINTS = 288
LEVELS: dict[str, float] = {"latency": 50.0, "availability": 1.0, "requests": 100.0, "errors": 0.0}


@dataclass
class Fault:
    """``shifts[(node, metric)]`` is added to that series from ``onset[node]`` (default ONSET_INDEX) on."""

    shifts: dict[tuple[str, str], float] = field(default_factory=dict)
    onset: dict[str, int] = field(default_factory=dict)


@dataclass
class Synth:
    nodes: dict[str, str]
    edges: list[tuple[str, str]]
    root: str
    noise: float = 0.03
    seed: int = 7
    no_data: set[str] = field(default_factory=set)
    no_baseline: bool = False
    levels: dict[tuple[str, str], float] = field(default_factory=dict)

    def graph(self) -> ServiceGraph:
        return ServiceGraph(
            source="declared",
            root=self.root,
            nodes=[GraphNode(node_id=n, name=n.upper(), kind=k) for n, k in self.nodes.items()],
            edges=[GraphEdge(caller=a, callee=b) for a, b in self.edges],
        )

    def _value(self, rng: random.Random, node: str, metric: str) -> float:
        level = self.levels.get((node, metric), LEVELS[metric])
        if metric == "availability":
            return min(1.0, 1.0 - abs(rng.gauss(0.0, 0.0005)))
        if metric == "requests":
            return max(0.0, round(rng.gauss(level, level**0.5)))
        return max(0.0, level * (1.0 + rng.gauss(0.0, self.noise)))

    def _series(self, node: str, metric: NodeMetricName, window: str, values: list[float]) -> NodeMetric:
        start = ALARM_AT - ONSET_INDEX * PERIOD if window == "incident" else ALARM_AT - timedelta(days=2)
        return NodeMetric(
            ref=f"m:{node}:{metric}:{window}",
            node_id=node,
            metric=metric,
            window=window,  # type: ignore[arg-type]
            timestamps=[start + i * PERIOD for i in range(len(values))],
            values=values,
        )

    def metrics(self, fault: Fault) -> GraphMetrics:
        rng = random.Random(self.seed)
        series: list[NodeMetric] = []
        metric_names: tuple[NodeMetricName, ...] = ("latency", "availability", "requests")
        for node in sorted(self.nodes):
            if node in self.no_data:
                continue
            for metric in metric_names:
                incident = [self._value(rng, node, metric) for _ in range(WINDOW_POINTS)]
                shift = fault.shifts.get((node, metric), 0.0)
                for index in range(fault.onset.get(node, ONSET_INDEX), WINDOW_POINTS):
                    incident[index] += shift
                series.append(self._series(node, metric, "incident", incident))
                if not self.no_baseline:
                    baseline = [self._value(rng, node, metric) for _ in range(BASELINE_POINTS)]
                    series.append(self._series(node, metric, "baseline", baseline))
        return GraphMetrics(series=series, no_data=sorted(self.no_data))


def change(
    ref: str, node_ids: list[str], minutes_before_alarm: float, kind: str = "lambda_code"
) -> GraphChange:
    return GraphChange(
        ref=ref,
        kind=kind,  # type: ignore[arg-type]
        event_name="UpdateFunctionCode" if kind == "lambda_code" else "PutParameter",
        resource_name=f"resource-{ref}",
        changed_at=ALARM_AT - timedelta(minutes=minutes_before_alarm),
        node_ids=node_ids,
    )


def upstream_latency(
    edges: list[tuple[str, str]], cause: str, delta: float, share: float = 1.0
) -> dict[tuple[str, str], float]:
    """Latency shifts for ``cause`` and everything that reaches it (each caller feels ``share`` of it)."""
    callers: dict[str, list[str]] = {}
    for caller, callee in edges:
        callers.setdefault(callee, []).append(caller)
    shifts = {(cause, "latency"): delta}
    frontier = [(cause, delta)]
    while frontier:
        node, felt = frontier.pop()
        for caller in callers.get(node, []):
            if (caller, "latency") not in shifts:
                shifts[(caller, "latency")] = felt * share
                frontier.append((caller, felt * share))
    return shifts
