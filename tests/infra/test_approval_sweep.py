"""The approval delivery sweep: a schedule invokes the callback's alias with the sweep input, with grants."""

from __future__ import annotations

import json
from typing import Any

from infra_cdk.components.agents import function_name

from controlroom.approval.sweep_event import is_sweep_event
from tests.infra.template_tools import actions, as_list, logical_id, resources_of, statements_by_role

CALLBACK = function_name("controlroom-local", "approval_callback")


def _schedule(template: dict[str, Any]) -> dict[str, Any]:
    (schedule,) = resources_of(template, "AWS::Scheduler::Schedule").values()
    return dict(schedule["Properties"])


def _callback_alias(template: dict[str, Any]) -> str:
    function = logical_id(template, "AWS::Lambda::Function", "FunctionName", CALLBACK)
    aliases = [
        key
        for key, alias in resources_of(template, "AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert len(aliases) == 1
    return aliases[0]


def test_a_schedule_invokes_the_callback_alias_with_the_sweep_input(local_json: dict[str, Any]) -> None:
    # Given the local stack's schedule
    props = _schedule(local_json)
    # Then it runs every minute, enabled, and targets the callback's alias (not $LATEST) with the sweep input
    assert props["ScheduleExpression"] == "rate(1 minute)" and props.get("State", "ENABLED") == "ENABLED"
    target = props["Target"]
    assert target["Arn"] == {"Ref": _callback_alias(local_json)}
    assert is_sweep_event(json.loads(target["Input"]))
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_the_schedule_role_may_only_invoke_the_callback_alias(local_json: dict[str, Any]) -> None:
    # Given the role the schedule assumes
    target = _schedule(local_json)["Target"]
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = local_json["Resources"][role_id]["Properties"]
    principals = {s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]}
    assert principals == {"scheduler.amazonaws.com"}
    # Then its policies allow exactly lambda:InvokeFunction on the callback alias, nothing else
    statements = [
        statement
        for policy in resources_of(local_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements and all(actions(s) == {"lambda:InvokeFunction"} for s in statements)
    alias = _callback_alias(local_json)
    assert all(as_list(s["Resource"]) == [{"Ref": alias}] for s in statements)


def test_the_callback_role_holds_what_the_sweep_calls(local_json: dict[str, Any]) -> None:
    # The sweep queries the outbox on gsi1, leases and finishes deliveries, and completes task tokens.
    statements = statements_by_role(local_json)[CALLBACK]
    checkpoint = logical_id(local_json, "AWS::DynamoDB::Table", "TableName", "controlroom-local-checkpoint")
    allowed = {a for s in statements if s["Effect"] == "Allow" for a in actions(s)}
    assert {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:UpdateItem"} <= allowed
    query_on_index = [
        s
        for s in statements
        if "dynamodb:Query" in actions(s) and "/index/*" in json.dumps(as_list(s["Resource"]))
    ]
    assert query_on_index and checkpoint in json.dumps(query_on_index)
