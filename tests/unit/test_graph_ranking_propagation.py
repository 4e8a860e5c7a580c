"""rank_candidates when the path to the cause is hard to read: fan-out, noisy nodes, Lambda layers."""

from __future__ import annotations

import random

from controlroom.contracts.graph import Candidate, GraphMetrics, ServiceGraph
from controlroom.diagnosis import rank_candidates
from tests.unit.graph_synth import ALARM_AT, BASELINE_POINTS, Fault, Synth

CHAIN = {
    "front": "eks_service",
    "states": "aws_service",
    "worker": "lambda_function",
    "other": "ecs_service",
}
CHAIN_EDGES = [("front", "states"), ("states", "worker"), ("front", "other")]


def _ids(candidates: list[Candidate]) -> list[str]:
    return [candidate.node_id for candidate in candidates]


def _rank(graph: ServiceGraph, metrics: GraphMetrics, alarm_metric: str = "latency") -> list[Candidate]:
    return rank_candidates(graph, metrics, alarm_metric=alarm_metric, alarm_at=ALARM_AT)  # type: ignore[arg-type]


def _noisy(
    metrics: GraphMetrics, node: str, metric: str, incident: list[float], spread: float, level: float
) -> GraphMetrics:
    """``node``'s ``metric``: the given incident points, and a baseline swinging by ``spread``."""
    rng = random.Random(f"{node}:{metric}")
    baseline = [min(1.0, level + rng.uniform(-spread, spread)) for _ in range(BASELINE_POINTS)]
    series = []
    for s in metrics.series:
        if s.node_id == node and s.metric == metric:
            s = s.model_copy(update={"values": incident if s.window == "incident" else baseline})
        series.append(s)
    return metrics.model_copy(update={"series": series})


def _named(graph: ServiceGraph, names: dict[str, str]) -> ServiceGraph:
    nodes = [n.model_copy(update={"name": names.get(n.node_id, n.name)}) for n in graph.nodes]
    return graph.model_copy(update={"nodes": nodes})


def test_a_callee_called_many_times_per_request_explains_a_caller_with_a_far_larger_delay() -> None:
    # Given a table 40 ms slower and the function above it calling it seven times per request
    # (280 ms), the front end 300 ms: the table carries a seventh of its caller's shift
    nodes = {"front": "eks_service", "worker": "lambda_function", "table": "dynamodb_table"}
    edges = [("front", "worker"), ("worker", "table")]
    synth = Synth(nodes, edges, root="front")
    shifts = {("table", "latency"): 40.0, ("worker", "latency"): 280.0, ("front", "latency"): 300.0}
    ranked = _rank(synth.graph(), synth.metrics(Fault(shifts)))
    # Then the table leads and the function is explained by it
    assert _ids(ranked)[0] == "table"
    worker = next(c for c in ranked if c.node_id == "worker")
    assert "explained by table" in worker.why


def test_a_service_behind_a_lambdas_code_segment_beats_the_function_it_explains() -> None:
    # Given one Lambda's function and code segment (same name) and the parameter store the code
    # calls four times per request: the store 40 ms slower, the Lambda and the front end 180 ms
    nodes = {
        "front": "eks_service",
        "fn": "lambda_function",
        "code": "lambda_code",
        "params": "aws_service",
    }
    edges = [("front", "fn"), ("fn", "code"), ("code", "params")]
    synth = Synth(nodes, edges, root="front")
    graph = _named(synth.graph(), {"fn": "worker", "code": "worker"})
    shifts = {
        ("params", "latency"): 40.0,
        ("code", "latency"): 180.0,
        ("fn", "latency"): 185.0,
        ("front", "latency"): 190.0,
    }
    ranked = _rank(graph, synth.metrics(Fault(shifts)))
    # Then the store leads; the function, though the actionable kind, is explained by it
    assert _ids(ranked)[0] == "params"
    fn = next(c for c in ranked if c.node_id == "fn")
    assert "explained by params" in fn.why


def test_a_noisy_cause_that_explains_the_alarm_outranks_the_alarmed_node() -> None:
    # Given the alarmed front end losing one point of availability (its baseline is flat) and the
    # worker behind it losing twelve, against a baseline that swings by five points either way
    synth = Synth(CHAIN, CHAIN_EDGES, root="front")
    fault = Fault({("front", "availability"): -0.01})
    metrics = synth.metrics(fault)
    worker = [0.95, 0.96, 0.95, 0.83, 0.82, 0.84]
    metrics = _noisy(metrics, "worker", "availability", worker, spread=0.05, level=0.95)
    ranked = _rank(synth.graph(), metrics, alarm_metric="availability")
    # Then the worker leads and the front end, explained by it, comes after
    assert _ids(ranked)[0] == "worker"
    front = next(c for c in ranked if c.node_id == "front")
    assert "explained by worker" in front.why


def test_a_cause_behind_a_node_with_oddly_scaled_data_still_explains_the_alarm() -> None:
    # Given a state machine whose normal availability is 5-40 % (it tells nothing) between the
    # front end and the worker, and the worker's own availability too noisy to stand out (its drop
    # of 20 points is under three of its sigmas), tracking the front end's drop point for point
    synth = Synth(CHAIN, CHAIN_EDGES, root="front")
    metrics = synth.metrics(Fault({("front", "availability"): -0.02}))
    states = [0.22, 0.08, 0.35, 0.18, 0.30, 0.12]
    metrics = _noisy(metrics, "states", "availability", states, spread=0.17, level=0.22)
    worker = [0.80, 0.84, 0.79, 0.60, 0.59, 0.61]
    metrics = _noisy(metrics, "worker", "availability", worker, spread=0.2, level=0.8)
    ranked = _rank(synth.graph(), metrics, alarm_metric="availability")
    # Then the worker leads, the front end explained by it
    assert _ids(ranked)[0] == "worker"
    assert "explained by worker" in next(c for c in ranked if c.node_id == "front").why


def test_a_noisy_descendant_that_does_not_track_the_alarm_leaves_the_blame_on_the_alarmed_node() -> None:
    # Given the front end broken itself, and a noisy worker whose points wander off its level
    # without following the front end's drop
    synth = Synth(CHAIN, CHAIN_EDGES, root="front")
    metrics = synth.metrics(Fault({("front", "availability"): -0.02}))
    worker = [0.62, 0.80, 0.80, 0.62, 0.80, 0.62]
    metrics = _noisy(metrics, "worker", "availability", worker, spread=0.2, level=0.8)
    ranked = _rank(synth.graph(), metrics, alarm_metric="availability")
    assert _ids(ranked)[0] == "front"
    assert "the alarmed node" in ranked[0].why


def test_a_faint_echo_of_the_callers_delay_in_a_callee_does_not_take_the_blame() -> None:
    # Given a service 200 ms slower (its own fault) and its table 40 ms slower with it (the
    # client-side latency of a starved caller), the table's noise hiding it under three sigmas
    nodes = {"front": "eks_service", "search": "ecs_service", "table": "dynamodb_table"}
    edges = [("front", "search"), ("search", "table")]
    synth = Synth(nodes, edges, root="front", levels={("table", "latency"): 10.0})
    shifts = {("search", "latency"): 200.0, ("front", "latency"): 200.0}
    metrics = synth.metrics(Fault(shifts))
    table = [10.0, 9.0, 11.0, 50.0, 51.0, 49.0]
    metrics = _noisy(metrics, "table", "latency", table, spread=0.0, level=10.0)
    metrics = metrics.model_copy(
        update={
            "series": [
                s.model_copy(update={"values": [10.0 + (i % 7) * 5.0 for i in range(BASELINE_POINTS)]})
                if (s.node_id, s.metric, s.window) == ("table", "latency", "baseline")
                else s
                for s in metrics.series
            ]
        }
    )
    ranked = _rank(synth.graph(), metrics)
    assert _ids(ranked)[0] == "search"
    assert "deepest unexplained anomaly" in ranked[0].why


def test_a_lambda_layer_explained_by_its_function_ranks_right_after_it() -> None:
    # Given the Lambda's code segment slow (600 ms), its function and the front end with it
    nodes = {"front": "eks_service", "fn": "lambda_function", "code": "lambda_code", "other": "ecs_service"}
    edges = [("front", "fn"), ("fn", "code"), ("front", "other")]
    synth = Synth(nodes, edges, root="front")
    graph = _named(synth.graph(), {"fn": "worker", "code": "worker"})
    shifts = {("code", "latency"): 600.0, ("fn", "latency"): 600.0, ("front", "latency"): 600.0}
    ranked = _rank(graph, synth.metrics(Fault(shifts)))
    # Then the function (what a rollback acts on) leads and its code segment is second, above the
    # front end the function explains
    assert _ids(ranked)[:3] == ["fn", "code", "front"]
