"""The kill switch's value and the plan scope, without AWS."""

from __future__ import annotations

import pytest

from controlroom.autonomy import AutonomySwitch, SwitchState, interpret, parse_switch, read_switch
from controlroom.contracts import Diagnosis, Hypothesis
from controlroom.contracts.diagnosis import BlamedResource
from controlroom.contracts.graph import Candidate
from controlroom.contracts.policy import AutonomyMode
from controlroom.policy.scope import in_scope, plan_scope
from tests.unit.test_policy_flow_state import action, evidence, incident, plan


@pytest.mark.parametrize(
    ("value", "state", "mode"),
    [
        ("halt", SwitchState.HALT, None),
        (" RUN\n", SwitchState.RUN, None),
        ('{"state": "run", "mode": "shadow"}', SwitchState.RUN, AutonomyMode.SHADOW),
        ('{"state": "halt", "changed_by": "cli:alice"}', SwitchState.HALT, None),
    ],
)
def test_parse_switch(value, state, mode):
    switch = parse_switch(value)
    assert (switch.state, switch.mode) == (state, mode)


@pytest.mark.parametrize("value", ["stop", "{}x", '{"state": "halt", "extra": 1}', '{"mode": "yolo"}', "[]"])
def test_anything_else_is_refused(value):
    with pytest.raises(ValueError):
        parse_switch(value)


def test_the_deploy_mode_applies_unless_the_switch_names_one():
    assert interpret(AutonomySwitch(), AutonomyMode.GATED).mode is AutonomyMode.GATED
    reading = interpret(AutonomySwitch(mode=AutonomyMode.ADVICE), AutonomyMode.GATED)
    assert (reading.halted, reading.mode) == (False, AutonomyMode.ADVICE)


def test_no_switch_deployed_means_the_deploy_mode():
    reading = read_switch("", AutonomyMode.SUPERVISED)
    assert (reading.halted, reading.mode) == (False, AutonomyMode.SUPERVISED)


def _diagnosis(**hypothesis) -> Diagnosis:
    return Diagnosis(
        produced_by="llm",
        hypotheses=[Hypothesis(cause="dependency_failure", summary="x", confidence=0.9, **hypothesis)],
        candidates=[
            Candidate(node_id="n1", name="orders-db-proxy", kind="lambda_function", score=0.7, why="x")
        ],
    )


def test_scope_is_the_incident_the_blamed_resources_and_the_candidates():
    scope = plan_scope(
        incident(),
        _diagnosis(blamed=BlamedResource(kind="ecs_service", name="web", cluster="shop")),
        evidence(),
    )
    the_plan = plan(
        action("rollback_lambda_alias", "act-1"),  # checkout: the alarmed function
        action("rollback_lambda_alias", "act-2", function_name="orders-db-proxy"),  # a candidate
        action("rollback_ecs_service", "act-3"),  # shop/web: blamed
        action("rollback_ecs_service", "act-4", cluster="other"),  # web in another cluster: not blamed
        action("rollback_lambda_alias", "act-5", function_name="billing-core"),  # unrelated
    )
    bound = [in_scope(a, scope) for a in the_plan.actions]
    assert bound == [True, True, True, False, False]


def test_ssm_and_codedeploy_must_name_what_the_incident_involves():
    scope = plan_scope(incident(), _diagnosis(), evidence())
    assert not in_scope(plan(action("run_ssm_automation")).actions[0], scope)
    aimed = plan(action("run_ssm_automation", parameters={"FunctionName": ["checkout"]})).actions[0]
    assert in_scope(aimed, scope)
    assert not in_scope(plan(action("stop_codedeploy_deployment")).actions[0], scope)
    assert in_scope(plan(action("notify_only")).actions[0], scope)


@pytest.mark.parametrize(("code", "halted"), [("ThrottlingException", None), ("AccessDeniedException", True)])
def test_throttling_is_retried_and_any_other_error_fails_closed(monkeypatch, code, halted):
    import boto3
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from botocore.stub import Stubber

    from controlroom.autonomy import switch
    from controlroom.errors import TransientDependencyError

    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(switch, "_provider", lambda: SSMProvider(boto3_client=ssm))
    with Stubber(ssm) as stub:
        stub.add_client_error("get_parameter", service_error_code=code, http_status_code=400)
        if halted is None:
            with pytest.raises(TransientDependencyError, match=code):
                read_switch("/controlroom/test/autonomy", AutonomyMode.GATED, force_fetch=True)
        else:
            reading = read_switch("/controlroom/test/autonomy", AutonomyMode.GATED, force_fetch=True)
            assert reading.halted and code in reading.detail
