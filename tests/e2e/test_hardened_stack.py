"""The production hardening holds when the stack runs: encrypted stores, pinned versions, alias-started flows,
and controlroom's own alarms never opening incidents about controlroom."""

from __future__ import annotations

import copy

import pytest

from controlroom.local.client import EngineClient

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e


def test_tables_are_encrypted_with_the_stack_key(client: EngineClient) -> None:
    # Given the deployed local stack
    dynamodb = client.aws("dynamodb")
    for output in ("CheckpointTableName", "AuditTableName"):
        # Then both tables are encrypted with the environment's customer-managed key
        sse = dynamodb.describe_table(TableName=client.outputs[output])["Table"]["SSEDescription"]
        assert sse["SSEType"] == "KMS"
        assert sse["KMSMasterKeyArn"] == client.outputs["DataKeyArn"]


def test_alarms_reach_intake_which_starts_the_alias_and_agents_run_their_published_versions(
    client: EngineClient,
) -> None:
    # Given the alarm rule's target
    events = client.aws("events")
    (rule,) = [r for r in events.list_rules()["Rules"] if r["Name"].startswith("controlroom-local-alarm")]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    # Then it is Intake's environment alias, and Intake starts the state machine's environment alias,
    # which routes to the published version
    lambda_ = client.aws("lambda")
    intake = lambda_.get_alias(FunctionName="controlroom-local-intake", Name="local")
    assert target["Arn"] == intake["AliasArn"]
    configuration = lambda_.get_function_configuration(
        FunctionName="controlroom-local-intake", Qualifier=intake["FunctionVersion"]
    )
    flow_alias = configuration["Environment"]["Variables"]["STATE_MACHINE_ALIAS_ARN"]
    assert flow_alias == client.outputs["StateMachineAliasArn"]
    alias = client.sfn.describe_state_machine_alias(stateMachineAliasArn=flow_alias)
    assert [route["stateMachineVersionArn"] for route in alias["routingConfiguration"]] == [
        client.outputs["StateMachineVersionArn"]
    ]
    # When an alarm runs an incident to its end, approved through the approval page
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    assert incident_id, "Intake should have opened an incident"
    approval = client.wait_for_approval(incident_id, execution_arn, timeout=60)
    assert client.decide(approval.approval_id, "approve", "cli:test").decided
    assert finished(client, execution_arn).terminal_state == "Resolved"
    # Then every decision record names the Lambda version its agent's alias points at, never $LATEST
    records = client.timeline(incident_id)
    assert {record.agent for record in records} >= {"intake", "plan", "request_approval", "execute", "close"}
    for record in records:
        function = f"controlroom-local-{record.agent.replace('_', '-')}"
        pinned = lambda_.get_alias(FunctionName=function, Name="local")["FunctionVersion"]
        assert record.function_version == pinned != "$LATEST", record.agent
        # And the flow revision that ran
        assert record.flow_revision == client.outputs["FlowRevision"], record.agent


def test_controlroom_alarms_never_start_an_incident_flow(client: EngineClient) -> None:
    # Given an alarm about controlroom itself (the ops alarms page the topic instead)
    event = copy.deepcopy(alarm_event())
    event["detail"]["alarmName"] = "controlroom-local-ops-executions-failed"
    # Then the rule starts nothing
    assert client.fire(event) == []
    # While the same alarm under a workload's name does
    event["detail"]["alarmName"] = "checkout-api-errors"
    assert len(client.fire(event)) == 1
