"""Rank the nodes of a service graph as causes of the alarm: plain, deterministic scoring.

Each node reachable from the alarmed one scores, for its metric that best ties it to the alarm::

    anomaly * r**2 * position * onset * view * (1 + 2 * change)

``anomaly``: robust z (median/MAD, direction-aware) against the baseline and the window's own
level before the alarm, saturated to [0, 1); ``r``: its co-movement with the alarm's series over
the incident window; ``position``: 1 for the deepest anomalous node no anomalous callee explains,
0.35 when one does (it co-moves and carries a fair share of the shift), 0.6 off the anomalous
paths; ``onset``: 0.5 when it went bad after the alarm did; ``view``: 0.7 for remote and client
nodes; ``change``: the best change on it before its onset, split across an ambiguous change's
nodes and fading with age (half weight on an explained node). Equal scores go by node_id.

Blame then passes along explanations (``propagate``): the node at the end of a chain of
explanations takes at least half the relevance of each node it explains, times the share of that
node's shift it carries and their r squared; what explains a node on an anomalous path is on it
too; a Lambda's other layers explained by the function rank just below it. A descendant too
noisy to stand out explains a node it tracks closely (``weak_explainer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from controlroom.contracts.graph import (
    Candidate,
    GraphChange,
    GraphMetrics,
    GraphNode,
    NodeMetricName,
    ServiceGraph,
    Signal,
)
from controlroom.diagnosis.anomaly import ONSET_Z, MetricAnomaly, co_movement, profiles, refs_of
from controlroom.diagnosis.assess import RELEVANT, NodeAssessment, assess, explainer_of, is_layer_of
from controlroom.diagnosis.changes import ChangeCredit, credit
from controlroom.diagnosis.explain import why_line
from controlroom.diagnosis.propagate import follow_layers, inherited
from controlroom.diagnosis.topology import Topology, reachable, topology

# Graph position: an anomalous node explained by an anomalous callee is a symptom; one that the
# alarmed node does not reach over anomalous nodes is less likely to be what the alarm feels.
EXPLAINED_FACTOR = 0.35
OFF_PATH_FACTOR = 0.6
# A view node (remote, client) that nothing real explains still loses ties to real nodes.
VIEW_FACTOR = 0.7
# An anomaly that began after the alarm's own did not cause it.
LATE_FACTOR = 0.5
# A change right before the node's anomaly triples its score; an ambiguous one adds its share.
CHANGE_WEIGHT = 2.0
# A change on a node with no data scores this share of the alarm's strength at most.
CHANGE_ALONE = 0.15


@dataclass(frozen=True)
class Judgement:
    """Everything one node's score is made of (the factors multiply)."""

    assessment: NodeAssessment
    position: float
    explained_by: str | None
    on_path: bool
    onset: float
    view: float
    change: ChangeCredit
    score: float


def _alarm_series(
    anomalies: dict[str, dict[str, MetricAnomaly]], root: str, alarm_metric: NodeMetricName
) -> MetricAnomaly | None:
    return anomalies.get(root, {}).get(alarm_metric)


def _anomalies(
    metrics: GraphMetrics,
    root: str,
    alarm_metric: NodeMetricName,
    alarm_statistic: str | None,
    alarm_at: datetime | None,
) -> tuple[dict[str, dict[str, MetricAnomaly]], MetricAnomaly | None]:
    """Every node's anomalies and the alarm's; against the baseline alone when the alarm's own
    anomaly is older than the window (then the window's level is no reference for anyone)."""
    anomalies = profiles(metrics, preferred_statistic=alarm_statistic, alarm_at=alarm_at)
    alarm = _alarm_series(anomalies, root, alarm_metric)
    if alarm is None or alarm.peak >= ONSET_Z:
        return anomalies, alarm
    older = profiles(metrics, preferred_statistic=alarm_statistic, alarm_at=alarm_at, window_level=False)
    older_alarm = _alarm_series(older, root, alarm_metric)
    if older_alarm is not None and older_alarm.peak >= ONSET_Z:
        return older, older_alarm
    return anomalies, alarm


def _onset_factor(best: MetricAnomaly | None, alarm_onset: datetime | None, period: timedelta) -> float:
    if best is None or best.onset is None or alarm_onset is None:
        return 1.0
    return LATE_FACTOR if best.onset > alarm_onset + period else 1.0


def _explainers(assessments: dict[str, NodeAssessment], topo: Topology) -> dict[str, str | None]:
    return {
        n: explainer_of(n, assessments, topo) if assessments[n].relevance >= RELEVANT else None
        for n in assessments
    }


def _with_explainers(on_path: set[str], explained_by: dict[str, str | None]) -> set[str]:
    """The anomalous paths, extended to what explains a node on them: the path to a cause often
    runs through a node whose own data is too noisy to count as anomalous."""
    extended = set(on_path)
    frontier = sorted(on_path)
    while frontier:
        explainer = explained_by.get(frontier.pop())
        if explainer is not None and explainer not in extended:
            extended.add(explainer)
            frontier.append(explainer)
    return extended


def _position(
    node_id: str,
    assessments: dict[str, NodeAssessment],
    explained_by: dict[str, str | None],
    on_path: set[str],
) -> tuple[float, str | None]:
    if assessments[node_id].relevance < RELEVANT:
        return 1.0, None
    explainer = explained_by[node_id]
    if explainer is not None:
        return EXPLAINED_FACTOR, explainer
    return (1.0 if node_id in on_path else OFF_PATH_FACTOR), None


def _judge(
    node_id: str,
    assessments: dict[str, NodeAssessment],
    topo: Topology,
    on_path: set[str],
    changes: Sequence[GraphChange],
    timing: tuple[datetime | None, timedelta, float],
    placed: tuple[float, str | None, float],
) -> Judgement:
    alarm_onset, period, alarm_strength = timing
    assessment = assessments[node_id]
    position, explained_by, relevance = placed
    onset = _onset_factor(assessment.best, alarm_onset, period)
    view = VIEW_FACTOR if topo.is_view(node_id) else 1.0
    node_onset = assessment.best.onset if assessment.best is not None else None
    change = credit(node_id, changes, node_onset or alarm_onset, tolerance=period)
    # A change on a node whose anomaly a callee explains counts half: it may have sent that
    # callee more load, but it must not outrank the explanation on its own.
    weight = CHANGE_WEIGHT if explained_by is None else CHANGE_WEIGHT / 2
    score = relevance * position * onset * view * (1.0 + weight * change.value)
    if not assessment.has_data:
        # Metrics cannot speak for a node without data; a change right before the alarm on it
        # still makes it worth a look, below anything the metrics point at.
        score = CHANGE_ALONE * change.value * alarm_strength
    return Judgement(assessment, position, explained_by, node_id in on_path, onset, view, change, score)


def _signals(judgement: Judgement, alarm: MetricAnomaly | None, explainer_refs: list[str]) -> list[Signal]:
    assessment = judgement.assessment
    change = judgement.change
    if assessment.best is None:
        if change.change is None:
            return []
        return [Signal(name="change", value=round(change.value, 4), evidence_refs=[change.change.ref])]
    own_refs = refs_of([assessment.best])
    alarm_refs = refs_of([alarm]) if alarm is not None else []
    signals = [
        Signal(name="anomaly", value=round(assessment.anomaly, 4), evidence_refs=own_refs),
        Signal(
            name="explains_alarm",
            value=round(assessment.explains, 4),
            evidence_refs=list(dict.fromkeys(own_refs + alarm_refs)),
        ),
        Signal(name="graph_position", value=judgement.position, evidence_refs=own_refs + explainer_refs),
        Signal(name="onset", value=judgement.onset, evidence_refs=own_refs + alarm_refs),
    ]
    if judgement.change.change is not None:
        signals.append(
            Signal(
                name="change",
                value=round(judgement.change.value, 4),
                evidence_refs=[judgement.change.change.ref, *own_refs],
            )
        )
    return signals


def _candidate(
    node: GraphNode,
    judgement: Judgement,
    alarm: MetricAnomaly | None,
    root: str,
    assessments: dict[str, NodeAssessment],
) -> Candidate:
    explainer = assessments[judgement.explained_by].best if judgement.explained_by else None
    explainer_refs = refs_of([explainer]) if explainer is not None else []
    return Candidate(
        node_id=node.node_id,
        name=node.name,
        kind=node.kind,
        arn=node.arn,
        score=round(judgement.score, 6),
        signals=_signals(judgement, alarm, explainer_refs),
        why=why_line(judgement, root=root, alarm_missing=alarm is None),
    )


def rank_candidates(
    graph: ServiceGraph,
    metrics: GraphMetrics,
    changes: Sequence[GraphChange] = (),
    *,
    alarm_metric: NodeMetricName,
    alarm_statistic: str | None = None,
    alarm_at: datetime | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Rank every node reachable from the alarmed one as the alarm's cause, best first.

    Parameters
    ----------
    graph
        The topology; ``graph.root`` is the alarmed node. Cycles and unknown edge ends are fine.
    metrics
        Per-node series for the incident window and, where available, a baseline window.
    changes
        The attributed change feed; a change on several nodes is split between them.
    alarm_metric, alarm_statistic
        The alarmed metric of the root (and its statistic, to pick that series first).
    alarm_at
        When the alarm fired: the window's points before it stand in for a missing baseline.
    limit
        How many candidates to return.

    Returns
    -------
    list[Candidate]
        Best first; equal scores in node_id order. Nodes with no data score 0 and say so.
    """
    topo = topology(graph)
    nodes = {node.node_id: node for node in graph.nodes}
    anomalies, alarm = _anomalies(metrics, graph.root, alarm_metric, alarm_statistic, alarm_at)
    hops = reachable(topo, graph.root)
    for node_id in hops:
        nodes.setdefault(node_id, GraphNode(node_id=node_id, name=node_id, kind="unknown"))
    assessments = {node_id: assess(nodes[node_id], anomalies.get(node_id, {}), alarm) for node_id in hops}
    on_path = set(reachable(topo, graph.root, through=lambda n: assessments[n].relevance >= RELEVANT))
    period = timedelta(seconds=_period(metrics))
    alarm_strength = assessments[graph.root].anomaly if alarm is not None else 0.0
    timing = (alarm.onset if alarm is not None and alarm.onset else alarm_at, period, alarm_strength)
    explained_by = _explainers(assessments, topo)
    on_path = _with_explainers(on_path, explained_by)
    placed = {n: _position(n, assessments, explained_by, on_path) for n in hops}
    relevance = inherited(
        {n: assessments[n].relevance for n in hops}, explained_by, lambda end, n: _share(assessments, end, n)
    )
    judgements = {
        n: _judge(n, assessments, topo, on_path, changes, timing, (*placed[n], relevance[n])) for n in hops
    }
    followed = follow_layers(
        {n: j.score for n, j in judgements.items()},
        explained_by,
        lambda layer, twin: is_layer_of(assessments[layer], assessments[twin], topo),
    )
    judgements = {n: replace(j, score=followed[n]) for n, j in judgements.items()}
    ordered = sorted(judgements, key=lambda n: (-judgements[n].score, n))[: max(0, limit)]
    return [_candidate(nodes[n], judgements[n], alarm, graph.root, assessments) for n in ordered]


def _share(assessments: dict[str, NodeAssessment], end: str, node_id: str) -> float:
    """How much of ``node_id``'s anomaly ``end`` accounts for: the share of its shift that ``end``
    carries in the same metric, times r squared of the two (a loose co-movement passes on little)."""
    symptom = assessments[node_id].best
    same = assessments[end].anomalies.get(symptom.metric) if symptom is not None else None
    if symptom is None or same is None or symptom.delta <= 0.0:
        return 0.0
    correlation = max(0.0, co_movement(same, symptom))
    return min(1.0, same.delta / symptom.delta) * correlation**2


def _period(metrics: GraphMetrics) -> int:
    periods = sorted(series.period_seconds for series in metrics.series if series.window == "incident")
    return periods[len(periods) // 2] if periods else 300
