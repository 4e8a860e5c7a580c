"""The state machine is inline ASL with numbers rendered per environment; the rule starts it on alarms."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from infra_cdk.components.orchestration import FLOW_REVISION, ORCHESTRATED, flow_revision, substitution_name
from infra_cdk.config import ConfigError

from controlroom.asl import NUMERIC_SUBSTITUTIONS, placeholders
from controlroom.budgets import execution_timeout_seconds
from controlroom.settings import load_settings
from tests.infra.template_tools import agent_alias_id, logical_id, resources_of, resources_under, rule_named

# The incident flow's construct; the deployment flow's state machine and rule are tested in test_deployment_stack.
INCIDENT = "IncidentResponse"


def _state_machine(template_json: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources_under(template_json, "AWS::StepFunctions::StateMachine", INCIDENT).values()
    return dict(machine["Properties"])


def _definition(template_json: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(_state_machine(template_json)["DefinitionString"]))


def test_definition_is_an_inline_string_with_function_arn_substitutions(local_json: dict[str, Any]) -> None:
    # Given the synthesized state machine
    props = _state_machine(local_json)
    # Then it is STANDARD, inline (moto reads only DefinitionString), named predictably, traced and logged
    assert "DefinitionS3Location" not in props
    assert isinstance(props["DefinitionString"], str)
    assert props["StateMachineName"] == "controlroom-local-incident-response"
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    # And the only placeholders left are the function ARNs and the flow revision, each one substituted
    remaining = placeholders(props["DefinitionString"])
    assert not remaining & set(NUMERIC_SUBSTITUTIONS)
    assert remaining == {substitution_name(agent) for agent in ORCHESTRATED} | {FLOW_REVISION}
    assert set(props["DefinitionSubstitutions"]) == remaining
    # And the revision is the digest of the definition, so a changed flow gets a new one
    assert props["DefinitionSubstitutions"][FLOW_REVISION] == flow_revision(props["DefinitionString"])


def test_numbers_come_from_the_environment(local_json: dict[str, Any]) -> None:
    # Given the local environment (agent timeout 60, approval timeout 300, verify wait 1, retry interval 1)
    states = _definition(local_json)["States"]
    # Then the rendered ASL carries those numbers as JSON numbers
    assert states["Intake"]["TimeoutSeconds"] == 60
    assert states["RequestApproval"]["TimeoutSeconds"] == 300
    assert states["WaitBeforeVerify"]["Seconds"] == 1
    assert states["Intake"]["Retry"][0]["IntervalSeconds"] == 1


def test_the_whole_execution_has_a_backstop_timeout(local_json: dict[str, Any]) -> None:
    # Given local: incident budget 900 s, approval timeout 300 s
    # Then an execution that outlives both (plus five minutes to escalate) is stopped by Step Functions,
    # which the executions-timed-out ops alarm reports
    assert _definition(local_json)["TimeoutSeconds"] == 900 + 300 + 300


def test_approval_timeout_override_reaches_the_asl_and_the_link_ttl(synth: Callable[..., Any]) -> None:
    # Given a synth with -c override:approval_timeout_seconds=5 (the approval-timeout tests need seconds)
    _, template = synth("local", approval_timeout_seconds="5")
    template_json = template.to_json()
    # Then the approval state times out after 5 s and no link outlives it
    assert _definition(template_json)["States"]["RequestApproval"]["TimeoutSeconds"] == 5
    for fn in resources_of(template_json, "AWS::Lambda::Function").values():
        assert int(fn["Properties"]["Environment"]["Variables"]["APPROVAL_TTL_SECONDS"]) <= 5


def test_rule_matches_alarms_entering_alarm(local_json: dict[str, Any]) -> None:
    rule = rule_named(local_json, "-alarm-state-change")
    props = rule["Properties"]
    assert props["Name"] == "controlroom-local-alarm-state-change"
    # local opts in every alarm except controlroom's own (they page through the topic instead)
    assert props["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {
            "state": {"value": ["ALARM"]},
            "alarmName": [{"anything-but": {"prefix": "controlroom-"}}],
        },
    }
    # And alarms go to Intake's environment alias (which dedupes, then starts the flow's alias), with
    # the rule's retries and a dead-letter queue
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": agent_alias_id(local_json, "controlroom-local-intake")}
    assert "DeadLetterConfig" in target
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 7200


def test_executions_ending_unclosed_go_to_intake(local_json: dict[str, Any]) -> None:
    # Given the status-change rule
    rule = rule_named(local_json, "-execution-ended-unclosed")
    (machine_id,) = resources_under(local_json, "AWS::StepFunctions::StateMachine", INCIDENT)
    # Then it matches this flow's executions that FAILED, TIMED_OUT or were ABORTED
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [{"Ref": machine_id}]},
    }
    # And Intake (which releases the lock) gets them, with a dead-letter queue
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": agent_alias_id(local_json, "controlroom-local-intake")}
    assert "DeadLetterConfig" in target


def test_backstop_timeout_and_lock_lease_follow_one_rule(local_json: dict[str, Any]) -> None:
    # Given local's incident budget (900 s) and approval timeout (300 s), and Intake's environment
    intake_id = logical_id(local_json, "AWS::Lambda::Function", "FunctionName", "controlroom-local-intake")
    variables = local_json["Resources"][intake_id]["Properties"]["Environment"]["Variables"]
    intake_settings = load_settings({k: v for k, v in variables.items() if isinstance(v, str)})
    # Then the ASL's backstop, Intake's settings and the budgets rule agree
    backstop = execution_timeout_seconds(900, 300)
    assert _definition(local_json)["TimeoutSeconds"] == backstop == intake_settings.execution_timeout_seconds
    # And Intake leases a started incident's lock past that backstop, never shorter
    assert intake_settings.lock_lease_seconds > backstop


def test_rule_filters_by_alarm_name_prefix_when_set(synth: Callable[..., Any]) -> None:
    # Given an environment that opts alarms in by the prefix "cr-"
    _, template = synth("local", alarm_name_prefix="cr-")
    rule = rule_named(template.to_json(), "-alarm-state-change")
    # Then only alarms whose names start with it match
    assert rule["Properties"]["EventPattern"]["detail"] == {
        "state": {"value": ["ALARM"]},
        "alarmName": [{"prefix": "cr-"}],
    }


def _matches(pattern: list[dict[str, Any]], name: str) -> bool:
    # The two EventBridge name filters controlroom writes: prefix, and anything-but a prefix.
    for clause in pattern:
        if "prefix" in clause and name.startswith(clause["prefix"]):
            return True
        if "anything-but" in clause and not name.startswith(clause["anything-but"]["prefix"]):
            return True
    return False


@pytest.mark.parametrize("prefix", ["", "cr-"])
def test_control_plane_alarms_page_humans_and_never_start_a_flow(
    synth: Callable[..., Any], prefix: str
) -> None:
    # Given the stack's own CloudWatch alarms, with every alarm opted in ("") or a prefix ("cr-")
    _, template = synth("local", alarm_name_prefix=prefix)
    template_json = template.to_json()
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources_of(template_json, "AWS::CloudWatch::Alarm").values()
    }
    topic = next(iter(resources_of(template_json, "AWS::SNS::Topic")))
    rule = rule_named(template_json, "-alarm-state-change")
    names = rule["Properties"]["EventPattern"]["detail"]["alarmName"]
    # Then failed executions, timed-out executions and a stuck event page the on-call through the topic
    assert {
        "controlroom-local-ops-executions-failed",
        "controlroom-local-ops-executions-timed-out",
        "controlroom-local-ops-dlq-alarm-events",
        "controlroom-local-ops-dlq-agent-async",
        "controlroom-local-ops-model-breaker-opened",
        "controlroom-local-ops-token-budget-exhausted",
        "controlroom-local-ops-approval-timeouts",
    } <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
        # And none of them matches the rule that starts incident flows
        assert not _matches(names, name), name
    # While a workload's alarm does
    assert _matches(names, f"{prefix}checkout-api-5xx")


@pytest.mark.parametrize("prefix", ["c", "controlroom", "controlroom-local-ops-"])
def test_a_prefix_that_matches_controlroom_alarms_fails_synth(synth: Callable[..., Any], prefix: str) -> None:
    with pytest.raises(ConfigError, match=r"alarm_name_prefix.*own alarms"):
        synth("local", alarm_name_prefix=prefix)
