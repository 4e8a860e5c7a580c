"""Policy and Execute against moto: plans bound to the incident, per-target protection, the kill switch."""

from __future__ import annotations

import json

import pytest

from controlroom import autonomy
from controlroom.agents.execute import EXECUTE
from controlroom.agents.policy import POLICY
from controlroom.contracts import Diagnosis, Hypothesis
from controlroom.contracts.diagnosis import BlamedResource
from controlroom.errors import ActionNotAllowed, AutonomyHalted
from controlroom.runtime import run_agent, stores
from tests.integration.test_execute import _alias_version, _decision, _lambda_with_alias_at_version_2
from tests.unit.test_policy_flow_state import action, create_function, evidence, incident, intake, plan, state

SWITCH = "/controlroom/test/autonomy"
PROTECTED = {"controlroom:protected": "true"}


@pytest.fixture
def opened(aws, monkeypatch):
    monkeypatch.setenv("AUTONOMY_PARAMETER", SWITCH)
    monkeypatch.setenv("AUTONOMY_MODE", "gated")
    autonomy.clear_cache()
    aws.client("ssm").put_parameter(Name=SWITCH, Type="String", Value=json.dumps({"state": "run"}))
    stores().checkpoint.open_incident(incident(), None)
    yield aws
    autonomy.clear_cache()


def _flip(aws, **value) -> None:
    aws.client("ssm").put_parameter(Name=SWITCH, Type="String", Value=json.dumps(value), Overwrite=True)
    autonomy.clear_cache()


def _diagnosis(blamed: str | None = None) -> Diagnosis:
    return Diagnosis(
        produced_by="llm",
        hypotheses=[
            Hypothesis(
                cause="dependency_failure",
                summary="A dependency failed.",
                confidence=0.9,
                blamed=BlamedResource(kind="lambda_function", name=blamed) if blamed else None,
            )
        ],
    )


def _policy(the_plan, lambda_context, diagnosis=None):
    event = state(intake=intake(), evidence=evidence(), diagnosis=diagnosis or _diagnosis(), plan=the_plan)
    return run_agent(POLICY, event, lambda_context)


def test_rollback_of_an_unrelated_protected_function_is_denied(opened, lambda_context):
    # Given the alarmed function (checkout) and an unrelated protected function nobody blamed
    create_function(opened, "checkout")
    create_function(opened, "billing-core", PROTECTED)
    the_plan = plan(action("rollback_lambda_alias", function_name="billing-core"))
    # When Policy decides the plan a model wrote
    decision = _policy(the_plan, lambda_context)
    # Then it is denied by name: out of the incident's scope, and protected by its own tag
    assert decision["outcome"] == "deny"
    reasons = decision["decisions"][0]["reasons"]
    assert "target-not-bound-to-incident" in reasons and "protected-target" in reasons


def test_a_blamed_downstream_function_is_in_scope(opened, lambda_context):
    # Given the diagnosis blames a downstream function (unprotected) while the alarmed one is protected
    create_function(opened, "checkout", PROTECTED)
    create_function(opened, "payments-api")
    the_plan = plan(action("rollback_lambda_alias", function_name="payments-api"))
    # When Policy decides in gated mode
    decision = _policy(the_plan, lambda_context, _diagnosis(blamed="payments-api"))
    # Then the tag is read from the action's own target: it may run once approved
    assert decision["outcome"] == "approval"
    assert decision["decisions"][0]["reasons"] == ["gated-changes-need-approval"]


def test_a_blamed_but_protected_target_is_denied(opened, lambda_context):
    create_function(opened, "checkout")
    create_function(opened, "payments-api", PROTECTED)
    the_plan = plan(action("rollback_lambda_alias", function_name="payments-api"))
    decision = _policy(the_plan, lambda_context, _diagnosis(blamed="payments-api"))
    assert decision["outcome"] == "deny"
    assert decision["decisions"][0]["reasons"] == ["protected-target"]


def test_a_target_whose_tags_cannot_be_read_is_denied(opened, lambda_context):
    # Given the plan names the alarmed function, which does not exist (its tags cannot be read)
    the_plan = plan(action("rollback_lambda_alias"))
    decision = _policy(the_plan, lambda_context)
    assert decision["outcome"] == "deny"
    assert decision["decisions"][0]["reasons"] == ["target-tags-unreadable"]


def test_halt_makes_policy_decide_halted(opened, lambda_context):
    create_function(opened, "checkout")
    _flip(opened, state="halt", changed_by="cli:alice", reason="game day")
    decision = _policy(plan(action("notify_only")), lambda_context)
    assert decision["outcome"] == "halted"
    assert "cli:alice" in decision["reason"] and "game day" in decision["reason"]
    assert [d["effect"] for d in decision["decisions"]] == ["deny"]


def test_the_mode_changes_without_a_deploy(opened, lambda_context):
    # Given the deploy says gated, and the switch now says shadow
    create_function(opened, "checkout")
    the_plan = plan(action("rollback_lambda_alias"))
    assert _policy(the_plan, lambda_context)["outcome"] == "approval"
    _flip(opened, state="run", mode="shadow")
    # Then the next decision is shadow's: a dry run, decided by the Cedar shadow policy
    decision = _policy(the_plan, lambda_context)
    assert (decision["outcome"], decision["autonomy_mode"], decision["dry_run"]) == ("auto", "shadow", True)
    assert decision["decisions"][0]["reasons"] == ["shadow-dry-run-everything"]


@pytest.mark.parametrize("value", ["", "halt-ish", '{"state": "stop"}'])
def test_a_malformed_switch_fails_closed(opened, lambda_context, value):
    create_function(opened, "checkout")
    opened.client("ssm").put_parameter(Name=SWITCH, Type="String", Value=value or " ", Overwrite=True)
    autonomy.clear_cache()
    decision = _policy(plan(action("notify_only")), lambda_context)
    assert decision["outcome"] == "halted" and "failing closed" in decision["reason"]


def test_a_missing_switch_fails_closed(opened, lambda_context):
    opened.client("ssm").delete_parameter(Name=SWITCH)
    autonomy.clear_cache()
    assert autonomy.is_halted() is True


def test_execute_stops_when_halt_is_flipped_after_policy(opened, lambda_context):
    # Given an approved rollback, decided before anyone flipped the switch
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan))
    autonomy.current()  # warm the cache with "run": Execute must not trust it
    opened.client("ssm").put_parameter(Name=SWITCH, Type="String", Value="halt", Overwrite=True)
    # When Execute runs, Then it refuses by name and the alias never moved
    with pytest.raises(AutonomyHalted):
        run_agent(EXECUTE, event, lambda_context)
    assert _alias_version(opened) == "2"


def test_execute_rechecks_the_targets_protected_tag(opened, lambda_context):
    # Given a decision made before the target was tagged protected
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan))
    function_arn = opened.client("lambda").get_function(FunctionName="checkout")["Configuration"][
        "FunctionArn"
    ]
    opened.client("lambda").tag_resource(Resource=function_arn, Tags=PROTECTED)
    with pytest.raises(ActionNotAllowed, match="protected"):
        run_agent(EXECUTE, event, lambda_context)
    assert _alias_version(opened) == "2"
