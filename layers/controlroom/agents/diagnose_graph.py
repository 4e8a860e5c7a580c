"""Diagnose over the service graph: rank the nodes, then one hypothesis per top candidate, naming it."""

from __future__ import annotations

from controlroom.contracts import EvidenceBundle, Hypothesis, IncidentRef
from controlroom.contracts.diagnosis import BlamedResource, Cause
from controlroom.contracts.graph import Candidate, GraphChange, NodeMetricName
from controlroom.diagnosis import rank_candidates

WITH_CHANGE_CONFIDENCE = 0.85
METRICS_ONLY_CONFIDENCE = 0.65
MAX_GRAPH_HYPOTHESES = 3
CANDIDATE_LIMIT = 10
_DATA_STORES = frozenset({"dynamodb_table", "rds_database", "sqs_queue"})
# Alarm metric names (lower case, substring) -> the graph metric the alarm watches.
_ALARM_METRICS: tuple[tuple[str, NodeMetricName], ...] = (
    ("availability", "availability"),
    ("fault", "errors"),
    ("error", "errors"),
    ("5xx", "errors"),
    ("latency", "latency"),
    ("duration", "latency"),
    ("invocations", "requests"),
    ("request", "requests"),
    ("count", "requests"),
)


def alarm_metric_of(incident: IncidentRef) -> NodeMetricName:
    """The graph metric an alarm watches, from its metric name (errors when the name says nothing)."""
    name = (incident.alarm.metric_name or "").lower()
    return next((metric for word, metric in _ALARM_METRICS if word in name), "errors")


def ranked_candidates(incident: IncidentRef, evidence: EvidenceBundle) -> list[Candidate]:
    """The ranking over the bundle's graph; empty when Evidence has no graph or no metrics."""
    if evidence.graph is None or evidence.graph_metrics is None:
        return []
    stat = next((q.stat for q in incident.alarm.metric_queries if q.stat), None)
    return rank_candidates(
        evidence.graph,
        evidence.graph_metrics,
        [change for change in evidence.graph_changes if change.changed_at <= incident.alarm.fired_at],
        alarm_metric=alarm_metric_of(incident),
        alarm_statistic=stat,
        alarm_at=incident.alarm.fired_at,
        limit=CANDIDATE_LIMIT,
    )


def _change_on(candidate: Candidate, evidence: EvidenceBundle) -> GraphChange | None:
    """The latest change the candidate's signals cite, or else attributed to it."""
    cited = {ref for signal in candidate.signals for ref in signal.evidence_refs}
    mine = [c for c in evidence.graph_changes if candidate.node_id in c.node_ids]
    chosen = [c for c in mine if c.ref in cited] or mine
    return max(chosen, key=lambda change: change.changed_at) if chosen else None


def _cause(candidate: Candidate, change: GraphChange | None, root: str) -> Cause:
    if change is not None:
        return "recent_change"
    if candidate.kind in _DATA_STORES:
        return "resource_saturation"
    return "unknown" if candidate.node_id == root else "dependency_failure"


def blamed_of(candidate: Candidate, incident: IncidentRef) -> BlamedResource:
    """The resource a candidate names; the alarmed resource's alias or cluster when it is that one."""
    resource = incident.resource
    same = resource.name == candidate.name and resource.kind == candidate.kind
    return BlamedResource(
        kind=candidate.kind,
        name=candidate.name,
        node_id=candidate.node_id,
        arn=candidate.arn,
        qualifier=resource.qualifier if same else None,
        cluster=resource.cluster if same else None,
    )


def graph_hypotheses(
    incident: IncidentRef, evidence: EvidenceBundle, candidates: list[Candidate]
) -> list[Hypothesis]:
    """One hypothesis per top candidate, confidence scaled by score and non-increasing."""
    if not candidates or candidates[0].score <= 0:
        return []
    root = evidence.graph.root if evidence.graph else ""
    hypotheses: list[Hypothesis] = []
    ceiling = 1.0
    for candidate in candidates[:MAX_GRAPH_HYPOTHESES]:
        change = _change_on(candidate, evidence)
        base = WITH_CHANGE_CONFIDENCE if change is not None else METRICS_ONLY_CONFIDENCE
        confidence = round(min(ceiling, base * candidate.score / candidates[0].score), 4)
        ceiling = confidence
        refs = [ref for signal in candidate.signals for ref in signal.evidence_refs]
        hypotheses.append(
            Hypothesis(
                cause=_cause(candidate, change, root),
                confidence=confidence,
                evidence_refs=list(dict.fromkeys(refs))[:20],
                change_ref=change.ref if change is not None else None,
                blamed=blamed_of(candidate, incident),
                summary=(
                    f"{candidate.kind} {candidate.name} (score {candidate.score:.2f}): {candidate.why}"
                    + (f"; changed before the alarm: {change.summary}" if change is not None else "")
                )[:500],
            )
        )
    return hypotheses
