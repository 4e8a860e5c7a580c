"""Diagnose fallback rules: a change just before the alarm is the prime suspect; otherwise say so honestly."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

from controlroom.agents.diagnose import diagnose, fallback_diagnosis
from controlroom.agents.intake import build_incident, parse_alarm_event
from controlroom.contracts import (
    ChangeRecord,
    EvidenceBundle,
    IntakeResult,
    LogSample,
    MetricSeries,
    utcnow,
)
from controlroom.contracts.flow import DiagnoseInput
from controlroom.runtime import AgentContext, stores
from controlroom.settings import settings as load_settings

ROOT = Path(__file__).resolve().parents[2]


def incident_for(sample: str = "alarm_lambda_errors.json", metric_name: str | None = None):
    raw = json.loads((ROOT / "events" / sample).read_text())
    if metric_name:
        raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] = metric_name
    return build_incident(parse_alarm_event(raw), load_settings(), utcnow())


def bundle(incident, changes=(), with_metrics=True) -> EvidenceBundle:
    fired = incident.alarm.fired_at
    metrics = (
        [MetricSeries(ref="metric:m1", label="Errors", timestamps=[fired], values=[14.0])]
        if with_metrics
        else []
    )
    logs = [
        LogSample(ref="log:1", log_group="/aws/lambda/checkout-api", timestamp=fired, message="ERROR boom")
    ]
    return EvidenceBundle(
        window_start=fired - timedelta(hours=1),
        window_end=fired + timedelta(minutes=5),
        metrics=metrics,
        logs=logs,
        changes=list(changes),
    )


def version_change(incident, minutes_before: int = 4, resource_name: str = "checkout-api") -> ChangeRecord:
    return ChangeRecord(
        ref="change:lambda_version:2",
        kind="lambda_version",
        resource_name=resource_name,
        changed_at=incident.alarm.fired_at - timedelta(minutes=minutes_before),
        summary="alias live serves version 2",
        current="2",
        previous="1",
    )


def request_for(incident, evidence) -> DiagnoseInput:
    return DiagnoseInput(intake=IntakeResult(outcome="opened", incident=incident), evidence=evidence)


def test_recent_change_on_the_resource_is_the_top_hypothesis():
    # Given version 2 went live 4 minutes before the errors alarm fired
    incident = incident_for()
    diagnosis = fallback_diagnosis(request_for(incident, bundle(incident, [version_change(incident)])), 30)
    # Then the change is blamed with high confidence, citing the change, metric and log
    top = diagnosis.top
    assert diagnosis.produced_by == "fallback"
    assert (top.cause, top.confidence, top.change_ref) == ("recent_change", 0.85, "change:lambda_version:2")
    assert top.evidence_refs == ["change:lambda_version:2", "metric:m1", "log:1"]


def test_recent_change_without_metric_evidence_is_less_certain():
    incident = incident_for()
    evidence = bundle(incident, [version_change(incident)], with_metrics=False)
    assert fallback_diagnosis(request_for(incident, evidence), 30).top.confidence == 0.75


def test_change_outside_the_window_or_on_another_resource_is_not_blamed():
    incident = incident_for()
    changes = [
        version_change(incident, minutes_before=45),
        version_change(incident, resource_name="other-fn"),
    ]
    diagnosis = fallback_diagnosis(request_for(incident, bundle(incident, changes)), 30)
    assert [h.cause for h in diagnosis.hypotheses] == ["unknown"]
    assert diagnosis.top.confidence == 0.3


def test_active_codedeploy_deployment_is_deployment_in_progress_and_ranked():
    # Given a deployment in progress and, in the same bundle, a version change
    incident = incident_for()
    deployment = ChangeRecord(
        ref="change:codedeploy_deployment:d-ABCDEFGH1",
        kind="codedeploy_deployment",
        resource_name="checkout-api",
        changed_at=incident.alarm.fired_at - timedelta(minutes=2),
        summary="deployment",
        current="d-ABCDEFGH1",
        status="InProgress",
    )
    diagnosis = fallback_diagnosis(
        request_for(incident, bundle(incident, [deployment, version_change(incident)])), 30
    )
    # Then both are hypotheses, ranked by confidence, highest first
    assert [(h.cause, h.confidence) for h in diagnosis.hypotheses] == [
        ("recent_change", 0.85),
        ("deployment_in_progress", 0.8),
    ]


def test_saturation_metric_without_change_suggests_saturation():
    incident = incident_for("alarm_ecs_service.json")  # MemoryUtilization
    diagnosis = fallback_diagnosis(request_for(incident, bundle(incident)), 30)
    assert (diagnosis.top.cause, diagnosis.top.confidence) == ("resource_saturation", 0.4)
    throttled = incident_for(metric_name="Throttles")
    assert (
        fallback_diagnosis(request_for(throttled, bundle(throttled)), 30).top.cause == "resource_saturation"
    )


def test_diagnose_agent_marks_its_output_as_fallback():
    incident = incident_for()
    ctx = AgentContext(
        agent="diagnose",
        settings=load_settings(),
        stores=None,  # type: ignore[arg-type]
        deadline=utcnow() + timedelta(seconds=30),
    )
    result = diagnose(request_for(incident, bundle(incident, [version_change(incident)])), ctx)
    assert ctx.produced_by == "fallback" and result.produced_by == "fallback"
    assert result.top.cause == "recent_change"


def test_diagnose_handler_writes_a_verifiable_decision_record(aws, lambda_context):
    incident = incident_for()
    state = {
        "intake": {"outcome": "opened", "incident": incident.model_dump(mode="json")},
        "evidence": bundle(incident, [version_change(incident)]).model_dump(mode="json"),
    }
    spec = importlib.util.spec_from_file_location("diagnose_handler", ROOT / "functions/diagnose/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = module.handler(state, lambda_context)
    assert output["hypotheses"][0]["cause"] == "recent_change"
    [step] = stores().checkpoint.steps(incident.incident_id)
    assert (step.agent, step.produced_by, step.confidence) == ("diagnose", "fallback", 0.85)
    assert stores().audit.verify(incident.incident_id).ok
