"""Plan fallback runbooks: roll back what changed, stop what is deploying, otherwise only notify."""

from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from controlroom.agents.intake import build_incident, parse_alarm_event
from controlroom.agents.plan import fallback_plan
from controlroom.contracts import (
    ChangeRecord,
    Diagnosis,
    EvidenceBundle,
    Hypothesis,
    IntakeResult,
    NotifyOnly,
    Plan,
    RollbackEcsService,
    RollbackLambdaAlias,
    StopCodeDeployDeployment,
    utcnow,
)
from controlroom.contracts.flow import PlanInput
from controlroom.runtime import stores
from controlroom.settings import settings as load_settings

ROOT = Path(__file__).resolve().parents[2]


def incident_for(
    sample: str = "alarm_lambda_errors.json", resource_dimension: str | None = "checkout-api:live"
):
    raw = json.loads((ROOT / "events" / sample).read_text())
    dimensions = raw["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
    if "Resource" in dimensions and resource_dimension is None:
        del dimensions["Resource"]
    return build_incident(parse_alarm_event(raw), load_settings(), utcnow())


def change(kind: str, ref: str, resource_name: str, current: str, previous: str | None, status=None):
    return ChangeRecord(
        ref=ref,
        kind=kind,
        resource_name=resource_name,
        changed_at=utcnow() - timedelta(minutes=3),
        summary="a change",
        current=current,
        previous=previous,
        status=status,
    )


def request_for(incident, cause: str, changes=(), change_ref: str | None = None) -> PlanInput:
    fired = incident.alarm.fired_at
    evidence = EvidenceBundle(
        window_start=fired - timedelta(hours=1), window_end=fired, changes=list(changes)
    )
    hypothesis = Hypothesis(cause=cause, summary=f"because {cause}", confidence=0.85, change_ref=change_ref)
    return PlanInput(
        intake=IntakeResult(outcome="opened", incident=incident),
        evidence=evidence,
        diagnosis=Diagnosis(hypotheses=[hypothesis], produced_by="fallback"),
    )


def test_recent_lambda_version_is_rolled_back_on_the_alarm_alias():
    # Given version 2 of checkout-api went live on alias "live" just before the alarm (version 1 before it)
    incident = incident_for()
    version = change("lambda_version", "change:lambda_version:2", "checkout-api", "2", "1")
    plan = fallback_plan(request_for(incident, "recent_change", [version], version.ref))
    # Then the plan rolls the alias back from 2 to 1, and nothing else
    assert plan.actions == [
        RollbackLambdaAlias(
            action_id="act-1",
            function_name="checkout-api",
            alias="live",
            target_version="1",
            from_version="2",
            rationale=plan.actions[0].rationale,
        )
    ]
    assert (plan.produced_by, plan.based_on, plan.incident_id) == (
        "fallback",
        "recent_change",
        incident.incident_id,
    )


def test_unqualified_metric_rolls_back_the_live_alias():
    incident = incident_for(resource_dimension=None)
    version = change("lambda_version", "change:lambda_version:7", "checkout-api", "7", "6")
    [action] = fallback_plan(request_for(incident, "recent_change", [version], version.ref)).actions
    assert isinstance(action, RollbackLambdaAlias) and action.alias == "live" and action.target_version == "6"


def test_recent_change_without_previous_version_only_notifies():
    incident = incident_for()
    version = change("lambda_version", "change:lambda_version:1", "checkout-api", "1", None)
    [action] = fallback_plan(request_for(incident, "recent_change", [version], version.ref)).actions
    assert isinstance(action, NotifyOnly)


def test_recent_ecs_deployment_rolls_back_the_service():
    incident = incident_for("alarm_ecs_service.json")
    deployment = change(
        "ecs_deployment", "change:ecs_deployment:1", "orders", "arn:td/orders:2", "arn:td/orders:1"
    )
    [action] = fallback_plan(request_for(incident, "recent_change", [deployment], deployment.ref)).actions
    assert isinstance(action, RollbackEcsService)
    assert (action.cluster, action.service, action.target_task_definition, action.from_task_definition) == (
        "prod",
        "orders",
        "arn:td/orders:1",
        "arn:td/orders:2",
    )


def test_deployment_in_progress_is_stopped():
    incident = incident_for()
    deployment = change(
        "codedeploy_deployment",
        "change:codedeploy_deployment:d-ABCDEFGH1",
        "live",
        "d-ABCDEFGH1",
        None,
        status="InProgress",
    )
    plan = fallback_plan(request_for(incident, "deployment_in_progress", [deployment], deployment.ref))
    assert plan.actions == [
        StopCodeDeployDeployment(
            action_id="act-1", deployment_id="d-ABCDEFGH1", rationale=plan.actions[0].rationale
        )
    ]


def test_deployment_id_outside_the_catalog_pattern_falls_back_to_notify():
    incident = incident_for()
    deployment = change(
        "codedeploy_deployment",
        "change:codedeploy_deployment:x",
        "live",
        "not-a-deployment-id",
        None,
        status="InProgress",
    )
    [action] = fallback_plan(
        request_for(incident, "deployment_in_progress", [deployment], deployment.ref)
    ).actions
    assert isinstance(action, NotifyOnly)


@pytest.mark.parametrize("cause", ["unknown", "resource_saturation", "dependency_failure"])
def test_other_causes_only_notify(cause):
    incident = incident_for()
    plan = fallback_plan(request_for(incident, cause))
    [action] = plan.actions
    assert isinstance(action, NotifyOnly) and "checkout-api" in action.message
    assert plan.based_on == cause


def _plan_payload(action: dict) -> dict:
    return {
        "incident_id": "inc-0000000000000001",
        "summary": "s",
        "produced_by": "llm",
        "based_on": "unknown",
        "actions": [action],
    }


def test_action_outside_the_catalog_is_rejected():
    # Given a plan asking for something no adapter exists for
    payload = _plan_payload({"type": "delete_stack", "action_id": "act-1", "rationale": "r", "stack": "prod"})
    # Then the contract refuses it
    with pytest.raises(ValidationError, match="delete_stack"):
        Plan.model_validate(payload)


def test_extra_field_on_a_catalog_action_is_rejected():
    # Given a rollback smuggling an extra field (e.g. a different account)
    payload = _plan_payload(
        {
            "type": "rollback_lambda_alias",
            "action_id": "act-1",
            "rationale": "r",
            "function_name": "checkout-api",
            "alias": "live",
            "target_version": "1",
            "from_version": "2",
            "account": "999999999999",
        }
    )
    with pytest.raises(ValidationError, match="account"):
        Plan.model_validate(payload)


def test_plan_handler_writes_a_verifiable_decision_record(aws, lambda_context):
    incident = incident_for()
    version = change("lambda_version", "change:lambda_version:2", "checkout-api", "2", "1")
    state = request_for(incident, "recent_change", [version], version.ref).model_dump(mode="json")
    spec = importlib.util.spec_from_file_location("plan_handler", ROOT / "functions/plan/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = module.handler(state, lambda_context)
    assert output["actions"][0]["type"] == "rollback_lambda_alias"
    assert Plan.model_validate(output).plan_digest == output["plan_digest"]
    [step] = stores().checkpoint.steps(incident.incident_id)
    assert (step.agent, step.produced_by, step.summary) == ("plan", "fallback", "rollback_lambda_alias")
    assert stores().audit.verify(incident.incident_id).ok
