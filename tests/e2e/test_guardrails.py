"""What must never happen: storms, denied or low-confidence plans, bad events, edited audit records."""

from __future__ import annotations

import json

import pytest

from controlroom.contracts import IncidentStatus
from controlroom.local import cli
from controlroom.local.world import BAD_VERSION, DEMO_ALIAS, DEMO_FUNCTION

from .conftest import alarm_event, finished, fire_one, history_states

pytestmark = pytest.mark.e2e


def _incident_items(client) -> list[dict]:
    table = client.aws("dynamodb")
    items = table.scan(TableName=client.outputs["CheckpointTableName"])["Items"]
    return [item for item in items if item["pk"]["S"].startswith("INCIDENT#") and item["sk"]["S"] == "META"]


def _alias_version(client) -> str:
    return client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)["FunctionVersion"]


def test_policy_deny_escalates_and_executes_nothing(engine):
    # Given the service is tagged controlroom:protected
    client = engine.redeploy(seed_world=True, protected=True).client
    execution_arn = fire_one(client, alarm_event())
    # Then the policy denies the rollback and the flow escalates without executing anything
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Escalated")
    states = history_states(client, execution_arn)
    assert "ReasonPolicyDeny" in states and "Execute" not in states and "RequestApproval" not in states
    assert _alias_version(client) == BAD_VERSION
    incident_id = client.incident_id(execution_arn)
    assert client.incident(incident_id).status is IncidentStatus.ESCALATED
    policy = next(r for r in client.timeline(incident_id) if r.agent == "policy")
    assert policy.output["outcome"] == "deny"


def test_low_confidence_quarantines_the_plan(client):
    # Given an alarm on a service with no recent change (nothing to correlate)
    event = alarm_event()
    event["detail"]["alarmName"] = "inventory-api-errors"
    event["resources"] = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:inventory-api-errors"]
    for metric in event["detail"]["configuration"]["metrics"]:
        metric["metricStat"]["metric"]["dimensions"] = {"FunctionName": "inventory-api"}
    execution_arn = fire_one(client, event)
    view = finished(client, execution_arn)
    # Then the plan is quarantined: escalated, nothing executed
    assert view.terminal_state == "Escalated"
    states = history_states(client, execution_arn)
    assert "ReasonQuarantine" in states and "Execute" not in states
    incident_id = client.incident_id(execution_arn)
    assert client.incident(incident_id).status is IncidentStatus.QUARANTINED


def test_malformed_event_is_rejected_by_name_and_kept(client):
    # Given an event that matches the rule but is not a valid alarm state change
    event = alarm_event()
    event["detail"]["state"]["timestamp"] = "yesterday-ish"
    execution_arn = fire_one(client, event)
    view = finished(client, execution_arn)
    # Then the flow fails at a defined terminal state with a named error
    assert (view.status, view.terminal_state, view.error) == ("FAILED", "EventRejected", "EventRejected")
    # And the raw event is kept verbatim in the checkpoint table
    items = client.aws("dynamodb").scan(TableName=client.outputs["CheckpointTableName"])["Items"]
    rejected = [item for item in items if item["pk"]["S"].startswith("REJECTED#")]
    assert len(rejected) == 1
    raw = json.loads(rejected[0]["raw_event"]["S"])
    assert raw["detail"]["state"]["timestamp"] == "yesterday-ish"
    assert rejected[0]["error_type"]["S"] == "UnsupportedEvent"
    assert _incident_items(client) == []


def test_audit_tampering_is_detected_by_the_cli(engine, capsys):
    client = engine.client
    execution_arn = fire_one(client, alarm_event())
    incident_id = client.incident_id(execution_arn)
    approval = client.wait_for_approval(incident_id, execution_arn)
    client.decide(approval.approval_id, "reject", "cli:test")
    finished(client, execution_arn)
    engine.write_state_file()
    assert cli.main(["audit", "verify", incident_id]) == 0
    # When someone edits the third audit record of the incident
    client.aws("dynamodb").update_item(
        TableName=client.outputs["AuditTableName"],
        Key={"chain_id": {"S": incident_id}, "seq": {"N": "3"}},
        UpdateExpression="SET actor = :a",
        ExpressionAttributeValues={":a": {"S": "agent:someone-else"}},
    )
    # Then `controlroom audit verify` fails and names that record
    capsys.readouterr()
    assert cli.main(["audit", "verify", incident_id]) == 1
    assert "BROKEN at record 3" in capsys.readouterr().out
