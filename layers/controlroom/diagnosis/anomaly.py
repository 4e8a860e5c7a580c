"""Each node's anomaly per metric, direction-aware, against its baseline and its own incident window."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from controlroom.contracts.graph import GraphMetrics, NodeMetric, NodeMetricName
from controlroom.diagnosis.stats import pearson, robust_center, robust_scale, top_mean

# Which way is bad: latency and errors up, availability down; requests either way (0).
DIRECTION: dict[str, int] = {"latency": 1, "errors": 1, "availability": -1, "requests": 0}
# A baseline shorter than this cannot give a noise scale; the incident window stands in.
MIN_BASELINE_POINTS = 6
# Without a baseline: this many points before the alarm say what normal was; else the window's
# better half does, if the window has this many points at all.
MIN_EARLY_POINTS = 3
MIN_WINDOW_POINTS = 4
SCALE_KIND: dict[str, str] = {
    "latency": "level",
    "errors": "rate",
    "availability": "rate",
    "requests": "counts",
}
# A point this many robust sigmas out is anomalous (used for onset).
ONSET_Z = 3.0
# Cap on z so that one flat baseline cannot dwarf every other signal.
MAX_Z = 1000.0


@dataclass(frozen=True)
class MetricAnomaly:
    """One node's metric over the incident window, scored against its reference."""

    node_id: str
    metric: NodeMetricName
    refs: tuple[str, ...]
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]
    z: tuple[float, ...]
    peak: float
    delta: float
    onset: datetime | None
    reference: str

    @property
    def sustained(self) -> bool:
        """True when every point is anomalous: the shift spans the window, so it has no shape."""
        return bool(self.z) and min(self.z) >= ONSET_Z

    def signed(self) -> list[float]:
        """The values turned so that "worse" is up (requests keep their sign)."""
        direction = DIRECTION[self.metric] or 1
        return [direction * value for value in self.values]


def _points(series: NodeMetric) -> tuple[list[datetime], list[float]]:
    pairs = [
        (stamp, value)
        for stamp, value in zip(series.timestamps, series.values, strict=False)
        if value == value  # NaN is a gap
    ]
    return [stamp for stamp, _ in pairs], [value for _, value in pairs]


def _choose(candidates: list[NodeMetric], preferred: str | None) -> NodeMetric:
    for wanted in (preferred, "Average"):
        for series in candidates:
            if wanted is not None and series.statistic == wanted:
                return series
    return sorted(candidates, key=lambda series: (series.statistic, series.ref))[0]


def _directional(metric: str, deviation: float) -> float:
    direction = DIRECTION[metric]
    return abs(deviation) if direction == 0 else direction * deviation


def _reference(
    metric: str,
    values: list[float],
    stamps: list[datetime],
    baseline: list[float],
    alarm_at: datetime | None,
    window_level: bool = True,
) -> tuple[list[tuple[float, float]], str]:
    """(centre, scale) pairs to judge each point against, and which reference that was.

    With a baseline: its median and noise, and also the window's own level before the alarm with
    that noise (floored at the level's share), the smaller z counting: a node that was already
    this way before the incident is not this incident's anomaly, and a baseline from another
    season must not make every drifted node look broken. Without one: the window's points before
    the alarm (three or more), else the window's better half; too few points judge nothing.
    ``window_level=False`` judges against the baseline alone (an incident older than the window).
    """
    kind = SCALE_KIND[metric]
    early = [v for v, t in zip(values, stamps, strict=True) if alarm_at is not None and t < alarm_at]
    window_points = early if len(early) >= 2 else values
    level = robust_center(window_points)
    if len(baseline) >= MIN_BASELINE_POINTS:
        base_level = robust_center(baseline)
        scale = robust_scale(baseline, kind=kind, center=base_level)
        if not window_level:
            return [(base_level, scale)], "baseline only"
        window_scale = max(scale, robust_scale([level], kind=kind))
        return [(base_level, scale), (level, window_scale)], "baseline"
    if len(early) >= MIN_EARLY_POINTS:
        return [(robust_center(early), robust_scale(early, kind=kind))], "early window"
    if len(values) < MIN_WINDOW_POINTS:
        return [], "too few points"
    calm = _calm_half(metric, values)
    calm_level = robust_center(calm)
    return [(calm_level, robust_scale(calm, kind=kind, level=calm_level))], "window"


def _calm_half(metric: str, values: list[float]) -> list[float]:
    """The better half of the window's points (by the metric's bad direction): what normal looked
    like, when up to half the window is the incident and nothing before it was measured."""
    direction = DIRECTION[metric]
    if direction == 0:
        return values
    ordered = sorted(values, key=lambda value: direction * value)
    return ordered[: (len(ordered) + 1) // 2]


def _onset(stamps: list[datetime], z_points: list[float]) -> datetime | None:
    """Where the run of anomalous points around the peak began (an earlier lone blip is not it)."""
    if not z_points or max(z_points) < ONSET_Z:
        return None
    index = z_points.index(max(z_points))
    while index > 0 and z_points[index - 1] >= ONSET_Z:
        index -= 1
    return stamps[index]


def profile(
    incident: NodeMetric, baseline: NodeMetric | None, alarm_at: datetime | None, window_level: bool = True
) -> MetricAnomaly | None:
    """Score one incident series against its reference; None when it has no points."""
    stamps, values = _points(incident)
    if not values:
        return None
    base_values = _points(baseline)[1] if baseline is not None else []
    pairs, reference = _reference(incident.metric, values, stamps, base_values, alarm_at, window_level)
    z_points, deviations = [], []
    for value in values if pairs else ():
        scored = [(_directional(incident.metric, value - center), scale) for center, scale in pairs]
        deviation, scale = min(scored, key=lambda item: item[0] / item[1])
        z_points.append(max(-MAX_Z, min(MAX_Z, deviation / scale)))
        deviations.append(deviation)
    if not pairs:
        z_points, deviations = [0.0] * len(values), [0.0] * len(values)
    onset = _onset(stamps, z_points)
    refs = (incident.ref, baseline.ref) if baseline is not None and base_values else (incident.ref,)
    return MetricAnomaly(
        node_id=incident.node_id,
        metric=incident.metric,
        refs=refs,
        timestamps=tuple(stamps),
        values=tuple(values),
        z=tuple(z_points),
        peak=top_mean(z_points),
        delta=top_mean(deviations),
        onset=onset,
        reference=reference,
    )


def profiles(
    metrics: GraphMetrics,
    *,
    preferred_statistic: str | None,
    alarm_at: datetime | None,
    window_level: bool = True,
) -> dict[str, dict[str, MetricAnomaly]]:
    """Every node's anomaly per metric: ``{node_id: {metric: MetricAnomaly}}``."""
    grouped: dict[tuple[str, str, str], list[NodeMetric]] = defaultdict(list)
    for series in metrics.series:
        grouped[(series.node_id, series.metric, series.window)].append(series)
    result: dict[str, dict[str, MetricAnomaly]] = defaultdict(dict)
    for (node_id, metric, window), candidates in sorted(grouped.items()):
        if window != "incident":
            continue
        incident = _choose(candidates, preferred_statistic)
        baselines = [
            s for s in grouped.get((node_id, metric, "baseline"), []) if s.statistic == incident.statistic
        ]
        scored = profile(incident, baselines[0] if baselines else None, alarm_at, window_level)
        if scored is not None:
            result[node_id][metric] = scored
    return dict(result)


def co_movement(left: MetricAnomaly, right: MetricAnomaly) -> float:
    """Correlation of two anomalies over their shared timestamps, both turned "worse is up".

    Requests count either way, so their correlation counts by magnitude. Two shifts that both
    span the whole window moved together against the baseline, though they have no shape to
    correlate: they count as 1.
    """
    if left.sustained and right.sustained:
        return 1.0
    right_at = dict(zip(right.timestamps, right.signed(), strict=True))
    shared = [
        (value, right_at[stamp])
        for stamp, value in zip(left.timestamps, left.signed(), strict=True)
        if stamp in right_at
    ]
    correlation = pearson([a for a, _ in shared], [b for _, b in shared])
    either_way = DIRECTION[left.metric] == 0 or DIRECTION[right.metric] == 0
    return abs(correlation) if either_way else correlation


def refs_of(anomalies: Iterable[MetricAnomaly]) -> list[str]:
    """The evidence refs behind ``anomalies``, de-duplicated in order."""
    return list(dict.fromkeys(ref for anomaly in anomalies for ref in anomaly.refs))
