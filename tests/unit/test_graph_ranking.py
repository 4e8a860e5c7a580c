"""rank_candidates on synthetic graphs: the kinds of cause the dev set does not hold."""

from __future__ import annotations

import time

from controlroom.contracts.graph import Candidate, GraphMetrics
from controlroom.diagnosis import rank_candidates
from tests.unit.graph_synth import ALARM_AT, Fault, Synth, change, upstream_latency

SHOP = {
    "front": "eks_service",
    "search": "ecs_service",
    "pay": "ecs_service",
    "table": "dynamodb_table",
    "queue": "sqs_queue",
    "fn": "lambda_function",
    "api": "api_gateway_stage",
}
SHOP_EDGES = [
    ("front", "search"),
    ("front", "pay"),
    ("search", "table"),
    ("pay", "api"),
    ("api", "fn"),
    ("fn", "table"),
    ("pay", "queue"),
]


def _rank(synth: Synth, fault: Fault, changes=(), alarm_metric="latency", **kwargs) -> list[Candidate]:
    return rank_candidates(
        synth.graph(), synth.metrics(fault), changes, alarm_metric=alarm_metric, alarm_at=ALARM_AT, **kwargs
    )


def _ids(candidates: list[Candidate]) -> list[str]:
    return [candidate.node_id for candidate in candidates]


def _signal(candidate: Candidate, name: str) -> float:
    return next((signal.value for signal in candidate.signals if signal.name == name), 0.0)


def test_a_data_store_under_load_is_blamed_over_its_callers() -> None:
    # Given the table's latency up 30 ms, its two callers' up 60 ms (two calls each), no change
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    shifts = upstream_latency(SHOP_EDGES, "table", 30.0, share=2.0)
    shifts[("table", "requests")] = 80.0
    ranked = _rank(synth, Fault(shifts))
    # Then the table leads, and the callers are explained by it
    assert _ids(ranked)[0] == "table"
    search = next(c for c in ranked if c.node_id == "search")
    assert "explained by table" in search.why
    assert _signal(ranked[0], "graph_position") == 1.0


def test_a_lambda_code_deploy_two_hops_down_is_blamed_with_and_without_the_change() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault({**upstream_latency(SHOP_EDGES, "fn", 400.0), ("fn", "availability"): -0.2})
    fault.shifts.pop(("search", "latency"), None)  # search does not call fn (table is not slow)
    fault.shifts.pop(("table", "latency"), None)
    assert _ids(_rank(synth, fault))[0] == "fn"
    deploy = change("deploy", ["fn"], minutes_before_alarm=8)
    ranked = _rank(synth, fault, [deploy])
    assert _ids(ranked)[0] == "fn"
    assert _signal(ranked[0], "change") == 1.0
    change_signal = next(s for s in ranked[0].signals if s.name == "change")
    assert "deploy" in change_signal.evidence_refs
    assert "UpdateFunctionCode" in ranked[0].why


def test_a_config_change_on_an_intermediate_service_with_healthy_callees_blames_it() -> None:
    # Given pay slow by 800 ms and its caller with it; downstream only a knock-on: its fast queue
    # (10 ms) 3 ms slower, many sigmas out but a sliver of pay's delay
    synth = Synth(SHOP, SHOP_EDGES, root="front", levels={("queue", "latency"): 10.0})
    shifts = {("pay", "latency"): 800.0, ("front", "latency"): 800.0, ("queue", "latency"): 3.0}
    ranked = _rank(synth, Fault(shifts))
    assert _ids(ranked)[0] == "pay"
    assert "deepest unexplained anomaly" in ranked[0].why


def test_the_alarmed_node_itself_broken_is_blamed() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    ranked = _rank(synth, Fault({("front", "latency"): 300.0}))
    assert _ids(ranked)[0] == "front"
    assert "the alarmed node" in ranked[0].why


def test_a_remote_view_in_front_of_the_broken_service_does_not_win_by_being_a_leaf() -> None:
    # Given front -> elb (remote, a leaf as X-Ray draws it) and front -> search; the elb carries
    # search's latency amplified by timeouts, search itself is the broken one
    nodes = {"front": "eks_service", "elb": "remote", "search": "ecs_service", "table": "dynamodb_table"}
    edges = [("front", "elb"), ("front", "search"), ("search", "table")]
    synth = Synth(nodes, edges, root="front")
    shifts = {("front", "latency"): 300.0, ("elb", "latency"): 450.0, ("search", "latency"): 250.0}
    ranked = _rank(synth, Fault(shifts))
    assert _ids(ranked)[0] == "search"
    elb = next(c for c in ranked if c.node_id == "elb")
    assert "explained by search" in elb.why


def test_a_remote_view_between_caller_and_callee_is_explained_by_the_callee() -> None:
    nodes = {"front": "eks_service", "elb": "remote", "search": "ecs_service"}
    edges = [("front", "elb"), ("elb", "search")]
    synth = Synth(nodes, edges, root="front")
    ranked = _rank(synth, Fault(upstream_latency(edges, "search", 300.0)))
    assert _ids(ranked)[:2] == ["search", "elb"] or _ids(ranked)[0] == "search"


def test_an_ambiguous_change_is_split_and_the_metrics_pick_the_reader_that_broke() -> None:
    # Given a parameter readable by search and pay changed 5 min before; only pay broke
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault({("pay", "latency"): 500.0, ("front", "latency"): 500.0})
    parameter = change("param", ["search", "pay"], minutes_before_alarm=5, kind="ssm_parameter")
    ranked = _rank(synth, fault, [parameter])
    assert _ids(ranked)[0] == "pay"
    assert _signal(ranked[0], "change") == 0.5  # split between its two readers
    search = next(c for c in ranked if c.node_id == "search")
    assert search.score < 0.1 * ranked[0].score


def test_an_unrelated_change_on_a_healthy_node_does_not_move_the_blame() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0))
    decoy = change("decoy", ["queue"], minutes_before_alarm=4)
    without, with_decoy = _rank(synth, fault), _rank(synth, fault, [decoy])
    assert _ids(with_decoy)[0] == _ids(without)[0] == "table"
    queue = next(c for c in with_decoy if c.node_id == "queue")
    assert queue.score < 0.2 * with_decoy[0].score


def test_a_change_after_the_anomaly_began_is_not_its_cause() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault({("pay", "latency"): 500.0, ("front", "latency"): 500.0})
    late = change("late", ["pay"], minutes_before_alarm=-20)
    ranked = _rank(synth, fault, [late])
    assert _signal(ranked[0], "change") == 0.0 and "resource-late" not in ranked[0].why


def test_a_node_with_no_data_scores_zero_and_says_so() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front", no_data={"queue"})
    ranked = _rank(synth, Fault({("front", "latency"): 300.0}))
    queue = next(c for c in ranked if c.node_id == "queue")
    assert queue.score == 0.0 and queue.signals == [] and "no data" in queue.why


def test_a_cycle_terminates_and_the_broken_member_is_blamed() -> None:
    nodes = {"front": "eks_service", "a": "ecs_service", "b": "ecs_service", "c": "dynamodb_table"}
    edges = [("front", "a"), ("a", "b"), ("b", "a"), ("b", "c"), ("c", "c")]
    synth = Synth(nodes, edges, root="front")
    ranked = _rank(synth, Fault(upstream_latency(edges, "b", 300.0)))
    assert _ids(ranked)[0] == "b"
    assert sorted(_ids(ranked)) == ["a", "b", "c", "front"]


def test_without_a_baseline_the_window_before_the_alarm_stands_in_and_why_says_so() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front", no_baseline=True)
    ranked = _rank(synth, Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)))
    assert _ids(ranked)[0] == "table"
    assert "no baseline" in ranked[0].why


def test_an_availability_alarm_blames_the_callee_whose_errors_it_feels() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault({("search", "availability"): -0.08, ("front", "availability"): -0.05})
    ranked = _rank(synth, fault, alarm_metric="availability")
    assert _ids(ranked)[0] == "search"


def test_a_second_mildly_anomalous_branch_and_more_noise_do_not_move_the_blame() -> None:
    # Given the table under load, plus queue latency drifting up a little on its own, across seeds
    hits = 0
    for seed in range(20):
        synth = Synth(SHOP, SHOP_EDGES, root="front", noise=0.08, seed=seed)
        shifts = upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)
        shifts[("queue", "latency")] = 8.0
        hits += _ids(_rank(synth, Fault(shifts)))[0] == "table"
    assert hits >= 19


def test_an_anomaly_that_began_after_the_alarms_is_not_the_cause() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    # pay breaks at the alarm; queue (a callee of pay) only goes bad two periods later, and worse
    fault = Fault(
        {("pay", "latency"): 500.0, ("front", "latency"): 500.0, ("queue", "latency"): 900.0},
        onset={"queue": 5},
    )
    ranked = _rank(synth, fault)
    assert _ids(ranked)[0] == "pay"
    queue = next(c for c in ranked if c.node_id == "queue")
    assert _signal(queue, "onset") < 1.0 and "after the alarm" in queue.why


def test_an_anomaly_the_alarmed_node_cannot_reach_over_anomalous_nodes_loses_to_one_it_can() -> None:
    # Given fn (a slow Lambda, 500 ms) broken behind pay and api, and the table many sigmas out
    # though search, its only caller, is healthy
    edges = [edge for edge in SHOP_EDGES if edge != ("fn", "table")]
    synth = Synth(SHOP, edges, root="front", levels={("fn", "latency"): 500.0, ("api", "latency"): 550.0})
    shifts = {**upstream_latency(edges, "fn", 400.0), ("table", "latency"): 100.0}
    ranked = _rank(synth, Fault(shifts))
    assert _ids(ranked)[0] == "fn"
    assert "not on an anomalous path" in next(c for c in ranked if c.node_id == "table").why


def test_every_signal_carries_the_refs_it_was_computed_from() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    metrics = synth.metrics(Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)))
    known = {series.ref for series in metrics.series} | {"deploy"}
    ranked = rank_candidates(
        synth.graph(), metrics, [change("deploy", ["fn"], 5)], alarm_metric="latency", alarm_at=ALARM_AT
    )
    assert ranked[0].signals
    for candidate in ranked:
        assert 0 < len(candidate.why) <= 300
        for signal in candidate.signals:
            assert signal.evidence_refs and set(signal.evidence_refs) <= known
            assert 0.0 <= signal.value <= 1.0
    explains = next(s for s in ranked[0].signals if s.name == "explains_alarm")
    assert "m:front:latency:incident" in explains.evidence_refs


def test_the_ranking_is_deterministic_and_independent_of_input_order() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0))
    graph, metrics = synth.graph(), synth.metrics(fault)
    first = rank_candidates(graph, metrics, alarm_metric="latency", alarm_at=ALARM_AT)
    shuffled_graph = graph.model_copy(update={"nodes": graph.nodes[::-1], "edges": graph.edges[::-1]})
    shuffled_metrics = metrics.model_copy(update={"series": metrics.series[::-1]})
    again = rank_candidates(shuffled_graph, shuffled_metrics, alarm_metric="latency", alarm_at=ALARM_AT)
    assert first == again
    # Equal scores (healthy nodes at 0) come in node_id order
    zeros = [c.node_id for c in first if c.score == 0.0]
    assert zeros == sorted(zeros)


def test_limit_caps_the_list_and_only_nodes_reachable_from_the_root_are_scored() -> None:
    nodes = {**SHOP, "island": "ecs_service"}
    synth = Synth(nodes, [*SHOP_EDGES, ("island", "table")], root="front")
    fault = Fault({**upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0), ("island", "latency"): 900.0})
    ranked = _rank(synth, fault, limit=3)
    assert len(ranked) == 3 and "island" not in _ids(_rank(synth, fault))


def test_a_callee_that_went_bad_after_its_caller_does_not_explain_it() -> None:
    # Given pay slow from the alarm on, and its queue much slower but only from the next period
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault(
        {("pay", "latency"): 500.0, ("front", "latency"): 500.0, ("queue", "latency"): 900.0},
        onset={"queue": 4},
    )
    ranked = _rank(synth, fault)
    assert _ids(ranked)[0] == "pay"
    assert "explained by" not in ranked[0].why


def test_a_slow_lambda_is_blamed_on_its_function_not_its_service_front_or_code_segment() -> None:
    # Given X-Ray's three layers of one Lambda, all named "worker": the service front, the
    # function, and the code's own segment (deepest), each carrying the same injected delay
    nodes = {
        "front": "eks_service",
        "worker_front": "lambda_service",
        "worker_fn": "lambda_function",
        "worker_code": "eks_service",
        "table": "dynamodb_table",
    }
    edges = [
        ("front", "worker_front"),
        ("worker_front", "worker_fn"),
        ("worker_fn", "worker_code"),
        ("worker_code", "table"),
    ]
    synth = Synth(nodes, edges, root="front")
    graph = synth.graph().model_copy(
        update={
            "nodes": [
                n.model_copy(update={"name": "worker" if n.node_id.startswith("worker") else n.name})
                for n in synth.graph().nodes
            ]
        }
    )
    metrics = synth.metrics(Fault(upstream_latency(edges, "worker_code", 600.0)))
    ranked = rank_candidates(graph, metrics, alarm_metric="latency", alarm_at=ALARM_AT)
    assert _ids(ranked)[0] == "worker_fn"
    assert set(_ids(ranked)[1:4]) >= {"worker_code", "worker_front"}


def test_a_recent_change_on_the_alarmed_node_does_not_outrank_the_callee_that_explains_it() -> None:
    # Given the table under load (no change of its own) and an unrelated deploy on front just before
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    fault = Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0))
    ranked = _rank(synth, fault, [change("front-deploy", ["front"], minutes_before_alarm=3)])
    assert _ids(ranked)[0] == "table"
    front = next(c for c in ranked if c.node_id == "front")
    assert _signal(front, "change") == 1.0 and "explained by" in front.why


def test_fifty_nodes_with_two_day_baselines_rank_in_under_50_ms_of_cpu() -> None:
    # Given a 50-node tree (each service calls two more), three metrics, 576-point baselines
    nodes = {f"s{i:02d}": ("dynamodb_table" if i >= 25 else "ecs_service") for i in range(50)}
    edges = [(f"s{(i - 1) // 2:02d}", f"s{i:02d}") for i in range(1, 50)]
    synth = Synth(nodes, edges, root="s00")
    synth_metrics = synth.metrics(Fault(upstream_latency(edges, "s37", 60.0)))
    longer = [
        s.model_copy(update={"timestamps": s.timestamps * 2, "values": s.values * 2})
        if s.window == "baseline"
        else s
        for s in synth_metrics.series
    ]
    metrics = synth_metrics.model_copy(update={"series": longer})
    graph = synth.graph()
    timings = []
    for _ in range(3):
        started = time.process_time()
        ranked = rank_candidates(graph, metrics, alarm_metric="latency", alarm_at=ALARM_AT)
        timings.append(time.process_time() - started)
    assert _ids(ranked)[0] == "s37"
    assert min(timings) < 0.050, timings


def test_without_the_alarm_series_anomaly_alone_ranks_and_why_says_so() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front", no_data={"front"})
    ranked = _rank(synth, Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)))
    assert _ids(ranked)[0] == "table"
    assert "alarm series missing" in ranked[0].why


def test_a_root_unknown_to_the_graph_and_without_edges_is_still_one_candidate() -> None:
    synth = Synth({"front": "eks_service"}, [], root="front")
    graph = synth.graph().model_copy(update={"nodes": []})
    ranked = rank_candidates(
        graph, synth.metrics(Fault({("front", "latency"): 300.0})), alarm_metric="latency"
    )
    assert _ids(ranked) == ["front"] and ranked[0].kind == "unknown" and ranked[0].score > 0
    assert rank_candidates(graph, GraphMetrics(), alarm_metric="latency", limit=0) == []


def test_a_change_on_a_node_without_data_surfaces_it_below_what_the_metrics_point_at() -> None:
    synth = Synth(SHOP, SHOP_EDGES, root="front", no_data={"queue", "api"})
    fault = Fault({("pay", "latency"): 500.0, ("front", "latency"): 500.0})
    ranked = _rank(synth, fault, [change("blind", ["queue"], minutes_before_alarm=5)])
    assert _ids(ranked)[0] == "pay"
    queue, api = (next(c for c in ranked if c.node_id == n) for n in ("queue", "api"))
    assert 0 < queue.score < 0.2 * ranked[0].score and api.score == 0.0
    assert _ids(ranked).index("queue") < _ids(ranked).index("api")
    assert "resource-blind" in queue.why
    assert [(s.name, s.evidence_refs) for s in queue.signals] == [("change", ["blind"])]


def test_an_incident_older_than_the_window_is_judged_against_the_baseline_alone() -> None:
    # Given the table's load began before the incident window: every point of it is shifted
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    shifts = upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)
    ranked = _rank(synth, Fault(shifts, onset={node: 0 for node, _ in shifts}))
    assert _ids(ranked)[0] == "table"
    assert "began before the window" in ranked[0].why


def test_without_a_baseline_or_points_before_the_alarm_the_windows_better_half_is_normal() -> None:
    # Given no baseline, an alarm at the window's first point, and half the window faulted
    synth = Synth(SHOP, SHOP_EDGES, root="front", no_baseline=True)
    metrics = synth.metrics(Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)))
    first_point = min(s.timestamps[0] for s in metrics.series)
    ranked = rank_candidates(synth.graph(), metrics, alarm_metric="latency", alarm_at=first_point)
    assert _ids(ranked)[0] == "table"
    assert "better half of the window" in ranked[0].why


def test_a_lone_blip_of_the_alarmed_node_earlier_in_the_window_is_not_the_onset() -> None:
    # Given front blipped once at the window's start, then the table's load began at the alarm
    synth = Synth(SHOP, SHOP_EDGES, root="front")
    metrics = synth.metrics(Fault(upstream_latency(SHOP_EDGES, "table", 40.0, share=2.0)))
    blipped = [
        s.model_copy(update={"values": [s.values[0] + 30.0, *s.values[1:]]})
        if (s.node_id, s.metric, s.window) == ("front", "latency", "incident")
        else s
        for s in metrics.series
    ]
    ranked = rank_candidates(
        synth.graph(),
        metrics.model_copy(update={"series": blipped}),
        alarm_metric="latency",
        alarm_at=ALARM_AT,
    )
    assert _ids(ranked)[0] == "table"
    assert _signal(ranked[0], "onset") == 1.0
