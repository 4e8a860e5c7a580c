"""Diagnose, Plan and the model path over the service graph; contract version 2 reads version-1 documents."""

from __future__ import annotations

from datetime import timedelta

from controlroom.agents.diagnose import fallback_diagnosis
from controlroom.agents.plan import fallback_plan
from controlroom.contracts import (
    CONTRACT_VERSION,
    Diagnosis,
    EvidenceBundle,
    Hypothesis,
    IntakeResult,
    NotifyOnly,
    RollbackLambdaAlias,
)
from controlroom.contracts.diagnosis import BlamedResource
from controlroom.contracts.flow import DiagnoseInput, PlanInput
from controlroom.contracts.graph import (
    Candidate,
    GraphChange,
    GraphEdge,
    GraphMetrics,
    GraphNode,
    NodeMetric,
    ServiceGraph,
)
from controlroom.llm.diagnose import blamed_outside
from tests.unit.test_plan import change, incident_for

FRONT, WORKER, TABLE = (
    "checkout-api_AWS::Lambda::Function",
    "pricing_AWS::Lambda::Function",
    "carts_AWS::DynamoDB::Table",
)


def _series(node: str, metric: str, window: str, values: list[float], end) -> NodeMetric:
    stamps = [end - timedelta(minutes=5 * (len(values) - i)) for i in range(len(values))]
    return NodeMetric(
        ref=f"graph-metric:{node}:{metric}:{window}",
        node_id=node,
        metric=metric,
        window=window,
        timestamps=stamps,
        values=values,
    )


def _bundle(incident, broken: str, with_change: bool) -> EvidenceBundle:
    """checkout-api calls pricing and carts; ``broken`` goes bad, checkout-api's errors follow."""
    fired = incident.alarm.fired_at
    graph = ServiceGraph(
        source="xray",
        root=FRONT,
        nodes=[
            GraphNode(node_id=FRONT, name="checkout-api", kind="lambda_function"),
            GraphNode(node_id=WORKER, name="pricing", kind="lambda_function"),
            GraphNode(node_id=TABLE, name="carts", kind="dynamodb_table"),
        ],
        edges=[GraphEdge(caller=FRONT, callee=WORKER), GraphEdge(caller=FRONT, callee=TABLE)],
    )
    # Every node reports errors and latency; the broken one and the alarmed front end go bad in the
    # metric the cause moves (errors for a bad deploy, latency for load), and the front end's errors follow.
    moved = "latency" if broken == TABLE else "errors"
    normals = {
        "errors": [0.01, 0.012, 0.011, 0.01, 0.013, 0.012] * 4,
        "latency": [10.0, 11, 10.5, 10.2, 11.1, 10.7] * 4,
    }
    series = []
    for node in (FRONT, WORKER, TABLE):
        # A table reports no error series while it has none (DynamoDB publishes SystemErrors when they occur).
        for metric, normal in normals.items() if node != TABLE else [("latency", normals["latency"])]:
            bad = (node == broken and metric == moved) or node == FRONT
            values = [normal[0], normal[1], *(v * 30 for v in normal[2:6])] if bad else normal[:6]
            series += [
                _series(node, metric, "baseline", normal, fired - timedelta(hours=1)),
                _series(node, metric, "incident", values, fired + timedelta(minutes=5)),
            ]
    changes = (
        [
            GraphChange(
                ref="graph-change:lambda_code:0",
                kind="lambda_code",
                event_name="UpdateFunctionCode20150331v2",
                resource_name="pricing",
                changed_at=fired - timedelta(minutes=12),
                node_ids=[WORKER],
            )
        ]
        if with_change
        else []
    )
    records = (
        [change("lambda_version", "change:lambda_version:7", "pricing", "7", "6")] if with_change else []
    )
    return EvidenceBundle(
        window_start=fired - timedelta(hours=1),
        window_end=fired,
        graph=graph,
        graph_metrics=GraphMetrics(series=series),
        graph_changes=changes,
        changes=records,
    )


def _plan_for(incident, evidence):
    diagnosis = fallback_diagnosis(
        DiagnoseInput(intake=IntakeResult(outcome="opened", incident=incident), evidence=evidence), 30
    )
    request = PlanInput(
        intake=IntakeResult(outcome="opened", incident=incident), evidence=evidence, diagnosis=diagnosis
    )
    return diagnosis, fallback_plan(request)


def test_a_bad_deploy_downstream_is_blamed_and_its_alias_rolled_back_not_the_alarmed_function():
    incident = incident_for()
    diagnosis, plan = _plan_for(incident, _bundle(incident, WORKER, with_change=True))
    assert diagnosis.candidates[0].node_id == WORKER
    assert diagnosis.top.blamed is not None and diagnosis.top.blamed.node_id == WORKER
    assert diagnosis.top.cause == "recent_change" and diagnosis.top.change_ref == "graph-change:lambda_code:0"
    action = plan.actions[0]
    assert isinstance(action, RollbackLambdaAlias)
    assert (action.function_name, action.alias, action.target_version, action.from_version) == (
        "pricing",
        "live",
        "6",
        "7",
    )


def test_a_blamed_table_under_load_only_notifies_even_with_a_version_record_of_another_function():
    # Given a diagnosis that blames the table (no change), and Evidence holding pricing's version record
    incident = incident_for()
    evidence = _bundle(incident, WORKER, with_change=True)
    blamed = BlamedResource(kind="dynamodb_table", name="carts", node_id=TABLE)
    hypothesis = Hypothesis(
        cause="resource_saturation", summary="carts is slow", confidence=0.65, blamed=blamed
    )
    request = PlanInput(
        intake=IntakeResult(outcome="opened", incident=incident),
        evidence=evidence,
        diagnosis=Diagnosis(hypotheses=[hypothesis], produced_by="fallback"),
    )
    # Then nothing is rolled back: neither the table (no runbook) nor the unrelated function
    assert isinstance(fallback_plan(request).actions[0], NotifyOnly)


def test_a_recent_change_blamed_on_a_function_without_its_version_record_only_notifies():
    incident = incident_for()
    # Given Evidence holding only the alarmed checkout-api's new version, and a diagnosis blaming pricing
    alarmed_change = change("lambda_version", "change:lambda_version:2", "checkout-api", "2", "1")
    evidence = _bundle(incident, WORKER, with_change=False).model_copy(update={"changes": [alarmed_change]})
    blamed = BlamedResource(kind="lambda_function", name="pricing", node_id=WORKER)
    hypothesis = Hypothesis(
        cause="recent_change", summary="pricing changed", confidence=0.85, blamed=blamed, change_ref=None
    )
    request = PlanInput(
        intake=IntakeResult(outcome="opened", incident=incident),
        evidence=evidence,
        diagnosis=Diagnosis(hypotheses=[hypothesis], produced_by="fallback"),
    )
    # Then the alarmed checkout-api is not rolled back (it is not what is blamed), nor is pricing (no version)
    assert isinstance(fallback_plan(request).actions[0], NotifyOnly)


def test_the_model_may_not_blame_a_node_outside_the_candidates():
    incident = incident_for()
    candidates = [Candidate(node_id=WORKER, name="pricing", kind="lambda_function", score=1.0, why="x")]

    def diagnosis(blamed: BlamedResource) -> Diagnosis:
        return Diagnosis(
            produced_by="llm",
            hypotheses=[Hypothesis(cause="recent_change", summary="s", confidence=0.8, blamed=blamed)],
        )

    inside = BlamedResource(kind="lambda_function", name="pricing", node_id=WORKER)
    alarmed = BlamedResource(kind="lambda_function", name="checkout-api")
    outside = BlamedResource(kind="lambda_function", name="billing", node_id="billing_AWS::Lambda::Function")
    assert blamed_outside(diagnosis(inside), incident, candidates) == []
    assert blamed_outside(diagnosis(alarmed), incident, candidates) == []
    assert blamed_outside(diagnosis(outside), incident, candidates) == ["billing_AWS::Lambda::Function"]


def test_version_2_reads_version_1_bundles_diagnoses_and_flow_state():
    assert CONTRACT_VERSION == "2"
    incident = incident_for()
    v1_bundle = {
        "window_start": "2026-11-21T10:00:00Z",
        "window_end": "2026-11-21T11:05:00Z",
        "metrics": [],
        "logs": [],
        "changes": [],
        "resource_tags": {},
        "missing": [],
    }
    v1_diagnosis = {
        "produced_by": "fallback",
        "hypotheses": [
            {"cause": "unknown", "summary": "s", "confidence": 0.3, "evidence_refs": [], "change_ref": None}
        ],
    }
    state = {
        "intake": IntakeResult(outcome="opened", incident=incident).model_dump(mode="json"),
        "evidence": v1_bundle,
        "diagnosis": v1_diagnosis,
        "control": {"handoffs": 2},
    }
    plan_input = PlanInput.model_validate(state)
    assert plan_input.evidence.graph is None and plan_input.evidence.graph_changes == []
    assert plan_input.diagnosis.candidates == [] and plan_input.diagnosis.top.blamed is None
    # A version-1 diagnosis without a blamed resource still plans as before (notify for unknown).
    assert isinstance(fallback_plan(plan_input).actions[0], NotifyOnly)
