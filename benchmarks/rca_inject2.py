"""Second held-out proxy for the ranking: faults with fan-out, dilution and a short window.

Independent of ``rca_inject.py``'s model. A cause is drawn at random among a scenario's non-view
nodes; a window of five points of its normal operation becomes the incident, the fault starts at
point 1 or 2 and lasts 1-3 points. Latency: the cause slows by 1-5 times its level, and each
caller above it feels its callee's shift times U(0.3, 3) (a caller may call its callee several
times per request). Availability: the cause loses 2-10 points, each hop up diluted by U(0.3, 1).
Prints recall@1/@3 beside the ranked-correlation baseline, and how many causes had no latency
or availability point in the window at all (no metric can find those)::

    PYTHONPATH=layers python benchmarks/rca_inject2.py [DIR] [--seed=N] [--trials=N] [-v]
"""

from __future__ import annotations

import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace

from controlroom.local.rca_dataset import MetricTable, RcaIncident, load_dataset
from rca_baseline import DEFAULT_DIRS, baseline_ranking, direct_ranking

WINDOW = 5


def _felt(callers: dict[str, list[str]], cause: str, kind: str, rng: random.Random) -> dict[str, float]:
    """Every node above ``cause`` with the factor of the cause's shift it feels."""
    felt: dict[str, float] = {}
    stack = [(cause, 1.0)]
    while stack:
        node, weight = stack.pop()
        for caller in callers.get(node, []):
            hop = rng.uniform(0.3, 3.0) if kind == "latency" else rng.uniform(0.3, 1.0)
            if caller not in felt:
                felt[caller] = weight * hop
                stack.append((caller, weight * hop))
    return felt


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _trial(proto: RcaIncident, kind: str, rng: random.Random) -> tuple[RcaIncident, str] | None:
    """One injected incident and its cause, or None when the draw does not fit (drawn again)."""
    scenario = proto.scenario
    normal = scenario.normal
    assert normal is not None
    callers: dict[str, list[str]] = {}
    for caller, callee in scenario.edges:
        callers.setdefault(callee, []).append(caller)
    candidates = [
        node
        for node in scenario.nodes
        if scenario.kinds.get(node) not in ("client", "remote")
        and node != proto.target.node
        and normal.series(node, "latency", "Average") is not None
    ]
    cause = rng.choice(candidates)
    if (
        kind == "errors"
        and statistics.median(_present(normal.series(cause, "availability", "Average") or []) or [0]) < 50
    ):
        return None
    felt = _felt(callers, cause, kind, rng)
    if proto.target.node not in felt:
        return None
    count = len(normal.timestamps)
    start = rng.randrange(300, count - WINDOW)
    window = list(range(start, start + WINDOW))
    before = list(range(0, start - 6))
    onset, width = rng.choice([1, 2, 2]), rng.choice([1, 2, 2, 3])
    level = _present((normal.series(cause, "latency", "Average") or [])[i] for i in before)
    if len(level) < 5:
        return None
    latency_shift = max(statistics.median(level), 0.005) * rng.uniform(1.0, 5.0)
    availability_drop = rng.uniform(2, 10)
    columns = {}
    for (node, metric, stat), series in normal.columns.items():
        values = [series[i] for i in window]
        weight = 1.0 if node == cause else felt.get(node)
        for k in range(onset, min(WINDOW, onset + width)) if weight is not None else ():
            if values[k] is None:
                continue
            if kind == "latency" and metric == "latency":
                values[k] += latency_shift * weight * (2.0 if stat != "Average" else 1.0)  # type: ignore[operator]
            if kind == "errors" and metric == "availability":
                values[k] = max(0.0, values[k] - availability_drop * weight)  # type: ignore[operator]
        columns[(node, metric, stat)] = tuple(values)
    table = MetricTable(timestamps=tuple(normal.timestamps[i] for i in window), columns=columns)
    baseline = MetricTable(
        timestamps=tuple(normal.timestamps[i] for i in before),
        columns={key: tuple(series[i] for i in before) for key, series in normal.columns.items()},
    )
    target = replace(proto.target, timestamp=normal.timestamps[window[onset]] + 120)
    incident = replace(
        proto,
        metrics=table,
        target=target,
        root_cause=cause,
        change_events=(),
        scenario=replace(scenario, normal=baseline),
    )
    return incident, cause


def _blind(incident: RcaIncident, cause: str) -> bool:
    """True when the cause has no latency or availability point in the window."""
    return not any(
        _present(incident.metrics.series(cause, metric, "Average") or [])
        for metric in ("latency", "availability")
    )


def main(argv: Sequence[str]) -> None:
    options = dict(a.lstrip("-").split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    paths = [a for a in argv if not a.startswith("-")]
    root = paths[0] if paths else next(p for p in DEFAULT_DIRS if p.is_dir())
    rng = random.Random(int(options.get("seed", "1")))
    trials = int(options.get("trials", "25"))
    protos: dict[tuple[str, str], RcaIncident] = {}
    for incident in load_dataset(root):
        if incident.scenario.normal is not None:
            protos.setdefault((incident.scenario.name, incident.target.metric), incident)
    ours: list[int] = []
    theirs: list[int] = []
    blind = 0
    for (name, metric), proto in sorted(protos.items()):
        kind = "latency" if metric == "latency" else "errors"
        ranks: list[tuple[int, int, str, list[str]]] = []
        while len(ranks) < trials:
            drawn = _trial(proto, kind, rng)
            if drawn is None:
                continue
            incident, cause = drawn
            ranking, baseline = direct_ranking(incident, use_changes=False), baseline_ranking(incident)
            blind += _blind(incident, cause)
            rank = ranking.index(cause) + 1 if cause in ranking else 99
            ranks.append((rank, baseline.index(cause) + 1 if cause in baseline else 99, cause, ranking[:3]))
        ours += [r for r, _, _, _ in ranks]
        theirs += [b for _, b, _, _ in ranks]
        print(f"{name:12s} {kind:8s} n={len(ranks)} {_recall([r for r, *_ in ranks])}")
        for rank, _, cause, top in ranks if "-v" in argv else ():
            if rank > 1:
                print(f"    miss {rank} {cause} -> {top}")
    print(f"all n={len(ours)} ours {_recall(ours)} | correlation baseline {_recall(theirs)}")
    print(f"causes with no latency or availability point in the window: {blind}")


def _recall(ranks: list[int]) -> str:
    at = lambda k: sum(rank <= k for rank in ranks) / len(ranks)  # noqa: E731
    return f"recall@1={at(1):.2f} recall@3={at(3):.2f}"


if __name__ == "__main__":
    main(sys.argv[1:])
