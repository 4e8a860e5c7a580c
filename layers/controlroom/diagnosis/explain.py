"""One line of why for a ranked candidate, from the factors that made its score."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controlroom.diagnosis.rank import Judgement

WHY_LIMIT = 300
_REFERENCE_NOTE = {
    "baseline": "vs baseline",
    "baseline only": "vs baseline; began before the window",
    "early window": "no baseline: vs the window before the alarm",
    "window": "no baseline: vs the better half of the window",
}


def _anomaly_part(judgement: Judgement) -> str:
    best = judgement.assessment.best
    if best is None:
        return "no data in the incident window"
    direction = {"latency": "up", "errors": "up", "availability": "down"}.get(best.metric, "shifted")
    onset = f" from {best.onset:%H:%M}" if best.onset is not None else ""
    note = _REFERENCE_NOTE.get(best.reference, best.reference)
    return f"{best.metric} {direction} {best.peak:.1f} sigma ({note}){onset}"


def _position_part(judgement: Judgement, root: str) -> str:
    if judgement.explained_by is not None:
        return f"explained by {judgement.explained_by}"
    if judgement.assessment.relevance <= 0.0:
        return "not anomalous with the alarm"
    if judgement.assessment.node.node_id == root:
        return "the alarmed node, no anomalous callee explains it"
    if judgement.on_path:
        return f"deepest unexplained anomaly on a path from {root}"
    return f"not on an anomalous path from {root}"


def why_line(judgement: Judgement, *, root: str, alarm_missing: bool) -> str:
    """The candidate's one line: anomaly, co-movement, position, onset, change (at most 300 chars)."""
    parts = [_anomaly_part(judgement)]
    if judgement.assessment.best is not None:
        parts.append(
            "alarm series missing: anomaly alone"
            if alarm_missing
            else f"moves with the alarm r={judgement.assessment.explains:.2f}"
        )
        parts.append(_position_part(judgement, root))
        if judgement.onset < 1.0:
            parts.append("began after the alarm's anomaly")
        if judgement.view < 1.0:
            parts.append("a caller-side view")
    change = judgement.change
    if change.change is not None:
        lead = f" {int(change.lead.total_seconds() // 60)} min before" if change.lead is not None else ""
        shared = f", shared by {change.share} nodes" if change.share > 1 else ""
        parts.append(f"{change.change.event_name} {change.change.resource_name}{lead}{shared}")
    line = "; ".join(parts)
    return line if len(line) <= WHY_LIMIT else line[: WHY_LIMIT - 1] + "…"
