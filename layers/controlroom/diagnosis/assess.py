"""Per-node judgement: how anomalous, how well it moves with the alarm, and who explains it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controlroom.contracts.graph import GraphNode
from controlroom.diagnosis.anomaly import ONSET_Z, MetricAnomaly, co_movement
from controlroom.diagnosis.stats import saturate
from controlroom.diagnosis.topology import Topology, ancestors, effective_callees, reachable

# z up to this is everyday noise; the anomaly signal grows from here and is half way at +KNEE.
NOISE_Z = 2.0
ANOMALY_KNEE = 6.0
# Request counts move with traffic for every node at once: they support, never lead.
METRIC_WEIGHT: dict[str, float] = {"latency": 1.0, "errors": 1.0, "availability": 1.0, "requests": 0.3}
# A node this relevant to the alarm counts as anomalous for the graph walk.
RELEVANT = 0.15
# A callee explains its caller when it moves with it this closely and carries this share of its
# shift (same metric, same units: a 2 ms wobble downstream does not explain a 1 s delay upstream).
# A callee that tracks its caller closely (r >= WEAK_CORRELATION) needs a smaller share: a
# caller may call it several times per request (fan-out, retries), so the caller's shift can be
# a multiple of the callee's at every hop. A looser co-movement, as a callee's own unrelated
# wobble gives, must carry a larger share.
EXPLAIN_CORRELATION = 0.6
EXPLAIN_SHARE = 0.1
EXPLAIN_SHARE_LOOSE = 0.25
# Across metrics (no common unit) the explainer must be this share as far out in sigmas.
EXPLAIN_PEAK_SHARE = 0.25
# Without the same metric on both sides, only a close co-movement explains.
EXPLAIN_CORRELATION_OTHER_METRIC = 0.8
# A descendant whose own series is too noisy (or too oddly scaled) to stand out against its
# baseline still explains a node it tracks this closely, in the same metric and the bad direction,
# when nothing clearly anomalous does: with five points, r >= .9 by chance is about one in fifty.
WEAK_CORRELATION = 0.9
WEAK_Z = 1.0
# ... and carries at least this share of the symptom's shift: a faint echo of a caller's trouble
# in a callee's client-side latency is no explanation of it.
WEAK_SHARE = 0.5
# Among weak explainers this close in r, a deployable resource and then a deeper node are preferred.
WEAK_TIE = 0.05


@dataclass(frozen=True)
class NodeAssessment:
    """What the metrics say about one node, before graph position, onset and changes."""

    node: GraphNode
    anomalies: dict[str, MetricAnomaly]
    best: MetricAnomaly | None
    anomaly: float
    explains: float
    relevance: float

    @property
    def has_data(self) -> bool:
        """True when any metric of the node had a point in the incident window."""
        return bool(self.anomalies)


def assess(
    node: GraphNode, anomalies: dict[str, MetricAnomaly], alarm: MetricAnomaly | None
) -> NodeAssessment:
    """Pick the node's metric that best ties it to the alarm, and score anomaly and co-movement.

    Without an alarm series to compare with, co-movement counts as 1 (anomaly alone decides).
    """
    best: tuple[float, float, float, MetricAnomaly | None] = (0.0, 0.0, 0.0, None)
    for metric in sorted(anomalies):
        anomaly = anomalies[metric]
        strength = saturate(anomaly.peak - NOISE_Z, ANOMALY_KNEE)
        # The alarm series trivially moves with itself; without one, anomaly alone decides.
        correlation = 1.0 if alarm is None or anomaly is alarm else max(0.0, co_movement(anomaly, alarm))
        # r squared: the share of the alarm's movement this node accounts for; with ~6 points a
        # middling r is what noise alone gives, and must not carry a large anomaly to the top.
        relevance = METRIC_WEIGHT[metric] * strength * correlation**2
        if best[3] is None or relevance > best[0]:
            best = (relevance, strength, correlation, anomaly)
    relevance, strength, correlation, chosen = best
    return NodeAssessment(node, anomalies, chosen, strength, correlation, relevance)


def _later(explainer: MetricAnomaly | None, symptom: MetricAnomaly) -> bool:
    """True when the would-be explainer went bad after the symptom did (effects do not lead)."""
    if explainer is None or explainer.onset is None or symptom.onset is None:
        return False
    return explainer.onset > symptom.onset


def _explains(explainer: NodeAssessment, symptom: MetricAnomaly, *, by_magnitude: bool) -> bool:
    if explainer.relevance < RELEVANT or _later(explainer.best, symptom):
        return False
    same = explainer.anomalies.get(symptom.metric)
    if same is not None and same.peak >= ONSET_Z:
        correlation = co_movement(same, symptom)
        share = EXPLAIN_SHARE if correlation >= WEAK_CORRELATION else EXPLAIN_SHARE_LOOSE
        if correlation >= EXPLAIN_CORRELATION and (not by_magnitude or same.delta >= share * symptom.delta):
            return True
    if symptom.metric == "requests":
        return False
    # Traffic explains traffic only: a callee's request surge is its caller's doing, not its cause.
    # Across metrics there is no common unit: the explainer must be at least a fair share as far
    # out (in sigmas) as the symptom, or a faint knock-on would explain a collapse.
    floor = max(ONSET_Z, EXPLAIN_PEAK_SHARE * symptom.peak)
    others = [
        anomaly
        for metric, anomaly in sorted(explainer.anomalies.items())
        if metric not in ("requests", symptom.metric) and anomaly.peak >= floor
    ]
    return any(co_movement(anomaly, symptom) >= EXPLAIN_CORRELATION_OTHER_METRIC for anomaly in others)


def is_layer_of(inner: NodeAssessment, resource: NodeAssessment, topo: Topology) -> bool:
    """True when ``inner`` is another layer (same name, not a resource kind) of resource node ``resource``."""
    return (
        inner.node.name == resource.node.name
        and topo.is_resource(resource.node.node_id)
        and not topo.is_resource(inner.node.node_id)
    )


def _resource_twin(node_id: str, assessments: Mapping[str, NodeAssessment], topo: Topology) -> str | None:
    """The resource node (same name, resource kind) that this layer of it moves with, if any.

    X-Ray shows one Lambda as its service front, its function and the code's own segment, all
    under one name and all with the same trouble; the blame belongs to the function, which is
    what a rollback acts on, wherever it sits among the layers.
    """
    own = assessments[node_id]
    if own.best is None or topo.is_resource(node_id):
        return None
    for other in sorted(assessments):
        twin = assessments[other]
        if (
            other != node_id
            and is_layer_of(own, twin, topo)
            and _explains(twin, own.best, by_magnitude=False)
        ):
            return other
    return None


def explainer_of(node_id: str, assessments: Mapping[str, NodeAssessment], topo: Topology) -> str | None:
    """The node whose anomaly explains ``node_id``'s, or None when none does (a cause candidate).

    A callee explains its caller when it is anomalous, moves with it, and carries a fair share of
    its shift; callees without data are looked through. A view node (remote, client) is also
    explained by any real node that is not its caller and moves with it: the view reports that
    node's trouble from the caller's side, often amplified by timeouts, so no share is required.
    """
    own = assessments[node_id]
    if own.best is None:
        return None

    def has_data(candidate: str) -> bool:
        found = assessments.get(candidate)
        return found is not None and found.has_data

    twin = _resource_twin(node_id, assessments, topo)
    if twin is not None:
        return twin
    callees = effective_callees(topo, node_id, has_data)
    # Then deeper descendants: where the nodes in between lack a metric or report it badly, a
    # node further down that carries the same shift still explains this one.
    deeper = sorted(set(reachable(topo, node_id)) - {node_id, *callees})
    for tier in (callees, deeper):
        explaining = [
            callee
            for callee in tier
            if callee in assessments
            and not is_layer_of(assessments[callee], own, topo)
            and _explains(assessments[callee], own.best, by_magnitude=True)
        ]
        if explaining:
            # The most relevant one, whatever the nodes are called (blame passes to it).
            return min(explaining, key=lambda callee: (-assessments[callee].relevance, callee))
    weak = weak_explainer(node_id, [*callees, *deeper], assessments, topo)
    if weak is not None:
        return weak
    if topo.is_view(node_id):
        upstream = ancestors(topo, node_id)
        for other in sorted(assessments):
            if other == node_id or other in upstream or topo.is_view(other):
                continue
            if _explains(assessments[other], own.best, by_magnitude=False):
                return other
    return None


def weak_explainer(
    node_id: str, descendants: list[str], assessments: Mapping[str, NodeAssessment], topo: Topology
) -> str | None:
    """The descendant that tracks ``node_id``'s anomaly closely though its own anomaly is weak.

    The path to the cause often runs through nodes whose metric is noisy or oddly scaled (a low
    traffic function whose availability swings by tens of points, a state machine whose normal
    availability is a few percent): their anomaly does not stand out, so the strict rule sees no
    explainer and blames the alarmed node. Same metric, same direction, r >= WEAK_CORRELATION,
    a fair share of the shift, and not later than the symptom: then the descendant explains it.
    """
    own = assessments[node_id]
    symptom = own.best
    if symptom is None or symptom.metric == "requests":
        return None
    hops = reachable(topo, node_id)
    found: list[tuple[float, str]] = []
    for other in descendants:
        candidate = assessments.get(other)
        if candidate is None or is_layer_of(candidate, own, topo):
            continue
        same = candidate.anomalies.get(symptom.metric)
        if same is None or same.peak < WEAK_Z or same.delta < WEAK_SHARE * symptom.delta:
            continue
        if _later(same, symptom):
            continue
        correlation = co_movement(same, symptom)
        if correlation >= WEAK_CORRELATION:
            found.append((correlation, other))
    if not found:
        return None
    best = max(correlation for correlation, _ in found)
    close = [other for correlation, other in found if correlation >= best - WEAK_TIE]
    return min(close, key=lambda other: (not topo.is_resource(other), -hops.get(other, 0), other))
