"""The deployment flow in the template: its state machine and rule, and least privilege per agent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra_cdk.components.agents import function_name
from infra_cdk.components.deployment import ORCHESTRATED
from infra_cdk.components.orchestration import FLOW_REVISION, substitution_name
from infra_cdk.components.permissions import DEPLOY_AGENTS

from controlroom.asl import NUMERIC_SUBSTITUTIONS, placeholders
from tests.infra.template_tools import (
    actions,
    as_list,
    mentions,
    resources_of,
    resources_under,
    statements_by_role,
)

# What a table/log/trace/key statement allows every agent (its decision record, logs, traces).
_PLUMBING = ("dynamodb:", "kms:", "logs:", "xray:")
READ_ONLY_PREFIXES = ("Get", "List", "Describe")


def _role(agent: str) -> str:
    return function_name("controlroom-local", agent)


def _allowed(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements if s["Effect"] == "Allow" for action in actions(s)}


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    ((key, value),) = resources_under(template, resource_type, "Deployment").items()
    return key, value


def test_the_deployment_state_machine_is_inline_traced_and_published_through_an_alias(
    local_json: dict[str, Any],
) -> None:
    machine_id, machine = _only(local_json, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["StateMachineName"] == "controlroom-local-deployment"
    assert isinstance(props["DefinitionString"], str) and props["TracingConfiguration"] == {"Enabled": True}
    remaining = placeholders(props["DefinitionString"])
    assert not remaining & set(NUMERIC_SUBSTITUTIONS)
    assert remaining == {substitution_name(agent) for agent in ORCHESTRATED} | {FLOW_REVISION}
    # Every Task has a timeout and a catch; the canary steps come from the environment (local: 10 % and 50 %)
    states = json.loads(props["DefinitionString"])["States"]
    for name, state in states.items():
        if state["Type"] == "Task":
            assert isinstance(state["TimeoutSeconds"], int), name
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
    assert {"Promoted", "RolledBack", "Refused", "Rejected", "Denied", "Escalated", "DryRun"} <= {
        name for name, state in states.items() if state["Type"] == "Succeed"
    }
    version_id, version = _only(local_json, "AWS::StepFunctions::StateMachineVersion")
    assert version["Properties"]["StateMachineArn"] == {"Ref": machine_id}
    _, alias = _only(local_json, "AWS::StepFunctions::StateMachineAlias")
    assert alias["Properties"]["RoutingConfiguration"] == [
        {"StateMachineVersionArn": {"Fn::GetAtt": [version_id, "Arn"]}, "Weight": 100}
    ]
    # And it invokes exactly the deployment agents, through their aliases
    invoke = [
        s
        for s in statements_by_role(local_json)["controlroom-local-deployment-state-machine"]
        if "lambda:InvokeFunction" in actions(s)
    ]
    targets = {r["Ref"] for r in as_list(invoke[0]["Resource"])}
    aliases = resources_of(local_json, "AWS::Lambda::Alias")
    functions = {
        f["Properties"]["FunctionName"]: k
        for k, f in resources_of(local_json, "AWS::Lambda::Function").items()
    }
    assert {aliases[t]["Properties"]["FunctionName"]["Ref"] for t in targets} == {
        functions[_role(agent)] for agent in ORCHESTRATED
    }


def test_deployment_requests_start_the_alias_and_nothing_else(local_json: dict[str, Any]) -> None:
    _, rule = _only(local_json, "AWS::Events::Rule")
    alias_id, _ = _only(local_json, "AWS::StepFunctions::StateMachineAlias")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["controlroom"],
        "detail-type": ["controlroom.deployment.requested"],
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": alias_id} and "DeadLetterConfig" in target
    statements = statements_by_role(local_json)["controlroom-local-deployment-rule"]
    assert [(actions(s), s["Resource"]) for s in statements if s["Effect"] == "Allow"] == [
        ({"states:StartExecution"}, {"Ref": alias_id})
    ]


def test_preflight_policy_and_guard_are_read_only(local_json: dict[str, Any]) -> None:
    by_role = statements_by_role(local_json)
    # Lambda's asynchronous dead-letter queue is every function's, not a change the agent makes
    dlq = next(key for key in resources_of(local_json, "AWS::SQS::Queue") if key.startswith("AgentsAsync"))
    for agent in ("deploy_preflight", "deploy_policy", "slo_guard"):
        statements = [s for s in by_role[_role(agent)] if not mentions(s, dlq)]
        services = {a for a in _allowed(statements) if not a.startswith(_PLUMBING)}
        assert all(a.split(":", 1)[1].startswith(READ_ONLY_PREFIXES) for a in services), (agent, services)


def test_the_shifter_may_update_aliases_only_on_opted_in_functions(
    synth: Callable[..., Any], local_json: dict[str, Any]
) -> None:
    statements = statements_by_role(local_json)[_role("traffic_shifter")]
    updates = [s for s in statements if "lambda:UpdateAlias" in actions(s)]
    allows = [s for s in updates if s["Effect"] == "Allow"]
    # Allowed only where the function carries the opt-in tag ...
    assert [s["Condition"] for s in allows] == [
        {"StringEquals": {"aws:ResourceTag/controlroom:deployable": "true"}}
    ]
    # ... and never on controlroom's own functions
    (deny,) = [s for s in updates if s["Effect"] == "Deny"]
    assert ":function:controlroom-local-*" in json.dumps(deny["Resource"])
    # When the environment also opts functions in by name prefix, that prefix (and only it) is added
    _, template = synth("local", deploy_function_prefix="shop-")
    prefixed = [
        s
        for s in statements_by_role(template.to_json())[_role("traffic_shifter")]
        if "lambda:UpdateAlias" in actions(s) and s["Effect"] == "Allow" and "Condition" not in s
    ]
    assert len(prefixed) == 1 and ":function:shop-*" in json.dumps(prefixed[0]["Resource"])


def test_close_may_start_only_the_incident_flow_alias(local_json: dict[str, Any]) -> None:
    incident_alias = next(
        iter(resources_under(local_json, "AWS::StepFunctions::StateMachineAlias", "IncidentResponse"))
    )
    starts = [
        s
        for s in statements_by_role(local_json)[_role("deploy_close")]
        if "states:StartExecution" in actions(s)
    ]
    assert [s["Resource"] for s in starts] == [{"Ref": incident_alias}]
    holders = {
        role
        for role, statements in statements_by_role(local_json).items()
        if "states:StartExecution" in _allowed(statements)
    }
    assert holders == {
        _role("deploy_close"),
        # the alarm rule invokes Intake, which starts the incident flow's alias
        _role("intake"),
        "controlroom-local-deployment-rule",
    }
    close = next(
        f
        for f in resources_of(local_json, "AWS::Lambda::Function").values()
        if f["Properties"]["FunctionName"] == _role("deploy_close")
    )
    assert close["Properties"]["Environment"]["Variables"]["INCIDENT_STATE_MACHINE_ARN"] == {
        "Ref": incident_alias
    }


def test_only_deployment_agents_get_the_deployment_settings(local_json: dict[str, Any]) -> None:
    for fn in resources_of(local_json, "AWS::Lambda::Function").values():
        variables = fn["Properties"]["Environment"]["Variables"]
        is_deploy = variables["AGENT_NAME"] in DEPLOY_AGENTS
        assert ("CANARY_STEPS" in variables) is is_deploy, variables["AGENT_NAME"]
        if is_deploy:
            assert variables["CANARY_STEPS"] == "10@2,50@2"


def test_deployment_ops_alarms_page_and_the_dashboard_shows_deployments(local_json: dict[str, Any]) -> None:
    topic = next(iter(resources_of(local_json, "AWS::SNS::Topic")))
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources_of(local_json, "AWS::CloudWatch::Alarm").values()
    }
    for what in ("deploy-executions-failed", "deploy-executions-timed-out", "deploy-requests-dlq"):
        assert alarms[f"controlroom-local-ops-{what}"]["AlarmActions"] == [{"Ref": topic}]
    (dashboard,) = resources_of(local_json, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Deployments started, succeeded, failed" in body and "Deployment ops alarms" in body
