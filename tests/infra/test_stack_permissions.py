"""Least privilege in the synthesized roles: the audit table is append-only, only Execute changes workloads."""

from __future__ import annotations

import json
from typing import Any

from infra_cdk.components.agents import function_name
from infra_cdk.components.keys import KEY_USE_ACTIONS
from infra_cdk.components.permissions import AGENTS, DEPLOY_AGENTS

from tests.infra.template_tools import (
    actions,
    as_list,
    logical_id,
    mentions,
    resources_of,
    statements_by_role,
)

AUDIT_WRITES_FORBIDDEN = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:*",
    "*",
}
MUTATING = {
    "lambda:UpdateAlias",
    "ecs:UpdateService",
    "codedeploy:StopDeployment",
    "ssm:StartAutomationExecution",
}


def _role(agent: str) -> str:
    return function_name("controlroom-local", agent)


def _allowed(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements if s["Effect"] == "Allow" for action in actions(s)}


def test_no_policy_lets_anyone_update_or_delete_audit_records(local_json: dict[str, Any]) -> None:
    # Given the audit table and every statement of every policy in the stack
    audit = logical_id(local_json, "AWS::DynamoDB::Table", "TableName", "controlroom-local-audit")
    for role, statements in statements_by_role(local_json).items():
        for statement in statements:
            # Then no statement that touches the audit table (or "*") allows changing a record
            if mentions(statement, audit) or "*" in as_list(statement["Resource"]):
                assert not actions(statement) & AUDIT_WRITES_FORBIDDEN, (role, statement)


def test_every_agent_can_append_to_the_audit_chain(local_json: dict[str, Any]) -> None:
    audit = logical_id(local_json, "AWS::DynamoDB::Table", "TableName", "controlroom-local-audit")
    by_role = statements_by_role(local_json)
    for agent in AGENTS:
        granted = {a for s in by_role[_role(agent)] if mentions(s, audit) for a in actions(s)}
        # PutItem for the record and its chain head (one TransactWriteItems), GetItem to read the head
        assert granted == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}, agent


def test_only_approval_callback_can_complete_task_tokens(local_json: dict[str, Any]) -> None:
    holders = {
        role
        for role, statements in statements_by_role(local_json).items()
        if any(a.startswith("states:SendTask") for a in _allowed(statements))
    }
    assert holders == {_role("approval_callback")}


def test_only_execute_may_change_workloads(local_json: dict[str, Any]) -> None:
    # The deployment flow's traffic shifter may move aliases too (on opted-in functions only:
    # test_deployment_stack); nothing else.
    by_role = statements_by_role(local_json)
    for role, statements in by_role.items():
        changes = _allowed(statements) & MUTATING
        expected = {_role("execute"): MUTATING, _role("traffic_shifter"): {"lambda:UpdateAlias"}}.get(
            role, set()
        )
        assert changes == expected, role


def test_execute_cannot_roll_back_the_control_plane_itself(local_json: dict[str, Any]) -> None:
    denies = [s for s in statements_by_role(local_json)[_role("execute")] if s["Effect"] == "Deny"]
    assert any(
        "lambda:UpdateAlias" in actions(s) and "function:controlroom-local-*" in str(s["Resource"])
        for s in denies
    )


def test_reasoning_agents_hold_nothing_beyond_tables_logs_and_traces(local_json: dict[str, Any]) -> None:
    # Given the roles of the agents that reason (Diagnose, Plan with the model off, Policy)
    by_role = statements_by_role(local_json)
    key = logical_id(local_json, "AWS::KMS::Key", "Description", _key_description(local_json))
    dlq = logical_id(local_json, "AWS::SQS::Queue", "QueueName", "controlroom-local-agent-async-dlq")
    for agent in ("diagnose", "plan", "policy"):
        statements = by_role[_role(agent)]
        services = {action.split(":")[0] for action in _allowed(statements)}
        # Then they reach the tables, their logs and traces, the data key and the async dead-letter queue
        # (Policy also reads the kill switch and each target's tags: read-only, see the next test)
        extra = {"ssm", "lambda", "ecs", "codedeploy"} if agent == "policy" else set()
        assert services == {"dynamodb", "logs", "xray", "kms", "sqs", *extra}, agent
        # And the data key only to use it (no admin, no grants), the audit key only to MAC a chain head,
        # and the queue only to send a failed event to it
        kms_statements = [s for s in statements if any(a.startswith("kms:") for a in actions(s))]
        data_key = [s for s in kms_statements if mentions(s, key)]
        audit_key = [s for s in kms_statements if not mentions(s, key)]
        assert {a for s in data_key for a in actions(s)} == set(KEY_USE_ACTIONS), agent
        assert {a for s in audit_key for a in actions(s)} == {"kms:GenerateMac"}, agent
        sqs_statements = [s for s in statements if any(a.startswith("sqs:") for a in actions(s))]
        assert {a for s in sqs_statements for a in actions(s)} == {"sqs:SendMessage"}, agent
        assert all(mentions(s, dlq) for s in sqs_statements), agent


def test_policy_reads_the_kill_switch_and_target_tags_and_changes_nothing(local_json: dict[str, Any]) -> None:
    statements = statements_by_role(local_json)[_role("policy")]
    outside_tables = {
        a for a in _allowed(statements) if a.split(":")[0] in {"ssm", "lambda", "ecs", "codedeploy"}
    }
    assert outside_tables == {
        "ssm:GetParameter",
        "lambda:ListTags",
        "ecs:DescribeServices",
        "ecs:ListTagsForResource",
        "codedeploy:GetDeployment",
        "codedeploy:ListTagsForResource",
    }
    (ssm,) = [s for s in statements if "ssm:GetParameter" in actions(s)]
    assert "parameter/controlroom/local/autonomy" in json.dumps(ssm["Resource"])


def test_only_the_agents_that_act_and_the_monitor_read_the_kill_switch(local_json: dict[str, Any]) -> None:
    # Policy and Execute (incidents), the traffic shifter (deployments) and the monitor (its gauge).
    acting = {"policy", "execute", "traffic_shifter", "autonomy_monitor"}
    readers = {
        agent
        for agent in AGENTS
        if any("ssm:GetParameter" in actions(s) for s in statements_by_role(local_json)[_role(agent)])
    }
    assert readers == acting
    variables = {
        fn["Properties"]["FunctionName"]: fn["Properties"]["Environment"]["Variables"]
        for fn in resources_of(local_json, "AWS::Lambda::Function").values()
    }
    with_switch = {name for name, env in variables.items() if "AUTONOMY_PARAMETER" in env}
    assert with_switch == {_role(agent) for agent in acting}


def _key_description(template: dict[str, Any]) -> str:
    """The data key's description (the symmetric key; the audit chain's HMAC key has a KeySpec)."""
    (key,) = (k for k in resources_of(template, "AWS::KMS::Key").values() if "KeySpec" not in k["Properties"])
    return str(key["Properties"]["Description"])


def test_evidence_is_read_only(local_json: dict[str, Any]) -> None:
    allowed = _allowed(statements_by_role(local_json)[_role("evidence")])
    non_table = {
        a
        for a in allowed
        # Besides its tables (and their key), logs, traces and the async dead-letter queue
        if not a.startswith(("dynamodb:", "logs:CreateLogStream", "logs:PutLogEvents", "xray:", "kms:"))
        and a != "sqs:SendMessage"
    }
    assert non_table, "evidence has no research permissions at all"
    assert all(
        a.split(":")[1].startswith(("Get", "Describe", "List", "BatchGet", "Filter", "Lookup"))
        for a in non_table
    )


def test_wildcard_resources_only_where_aws_requires_them(local_json: dict[str, Any]) -> None:
    # Actions without resource-level permissions; anything else on "*" is a least-privilege bug.
    allowed_on_star = {
        "cloudwatch:GetMetricData",
        "ecs:ListTaskDefinitions",
        "xray:GetServiceGraph",
        "cloudtrail:LookupEvents",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # Step Functions log delivery (CDK adds these for the state machine's logging)
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    for role, statements in statements_by_role(local_json).items():
        for statement in statements:
            if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"]):
                assert actions(statement) <= allowed_on_star, (role, statement)


def test_state_machine_invokes_exactly_the_orchestrated_agents_through_their_aliases(
    local_json: dict[str, Any],
) -> None:
    # Given the state machine's role
    statements = statements_by_role(local_json)["controlroom-local-state-machine"]
    invoke = [s for s in statements if "lambda:InvokeFunction" in actions(s)]
    assert len(invoke) == 1
    # Then it may invoke the environment alias of each orchestrated agent, and nothing else: not
    # $LATEST, not another version, not the approval callback
    targets = {resource["Ref"] for resource in as_list(invoke[0]["Resource"])}
    aliases = resources_of(local_json, "AWS::Lambda::Alias")
    functions = {
        props["Properties"]["FunctionName"]: key
        for key, props in resources_of(local_json, "AWS::Lambda::Function").items()
    }
    assert all(aliases[target]["Properties"]["Name"] == "local" for target in targets)
    invoked = {aliases[target]["Properties"]["FunctionName"]["Ref"] for target in targets}
    expected = {
        functions[_role(agent)]
        for agent in AGENTS
        if agent not in {"approval_callback", "autonomy_monitor"} and agent not in DEPLOY_AGENTS
    }
    assert invoked == expected


# The AWS calls each agent's code makes outside the tables (controlroom/tools, agents, approval, notify).
CALLS_MADE = {
    # Starts the flow, resolves composite alarms, keeps large rejected events, releases locks.
    "intake": {
        "states:StartExecution",
        "cloudwatch:DescribeAlarms",
        "s3:PutObject",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "evidence": {
        "cloudwatch:GetMetricData",
        "logs:FilterLogEvents",
        "lambda:GetAlias",
        "lambda:ListTags",
        "lambda:ListVersionsByFunction",
        "ecs:DescribeServices",
        "ecs:ListTagsForResource",
        "ecs:ListTaskDefinitions",
        "codedeploy:ListDeployments",
        "codedeploy:BatchGetDeployments",
        "xray:GetServiceGraph",
        "cloudtrail:LookupEvents",
    },
    "execute": {
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "codedeploy:GetDeployment",
        "codedeploy:StopDeployment",
        "ssm:StartAutomationExecution",
        "sns:Publish",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "verify": {"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"},
    "request_approval": {"ses:SendEmail", "sns:Publish"},
    "approval_callback": {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:UpdateItem"},
    "close": {"sns:Publish", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    "escalate": {"sns:Publish", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    "deploy_preflight": {
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "lambda:ListTags",
        "dynamodb:Query",
    },
    "deploy_approval": {"ses:SendEmail", "secretsmanager:GetSecretValue"},
    "traffic_shifter": {
        "lambda:GetAlias",
        "lambda:UpdateAlias",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "ssm:GetParameter",
    },
    "slo_guard": {"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"},
    "deploy_close": {"states:StartExecution", "sns:Publish", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
}


def test_each_agent_may_make_the_calls_its_code_makes(local_json: dict[str, Any]) -> None:
    by_role = statements_by_role(local_json)
    for agent, calls in CALLS_MADE.items():
        missing = calls - _allowed(by_role[_role(agent)])
        assert not missing, f"{agent} lacks {sorted(missing)}"


def test_intake_reads_alarm_tags_only_when_alarms_opt_in_by_tag(
    synth: Any, local_json: dict[str, Any]
) -> None:
    # Given the local environment (no opt-in tag): Intake only describes alarms (composite children)
    assert {
        a for a in _allowed(statements_by_role(local_json)[_role("intake")]) if a.startswith("cloudwatch:")
    } == {"cloudwatch:DescribeAlarms"}
    # When the environment opts alarms in by tag
    _, template = synth("local", alarm_opt_in_tag="controlroom:respond=true")
    template_json = template.to_json()
    statements = statements_by_role(template_json)[_role("intake")]
    # Then Intake may list alarm tags, on alarms only, and is told which tag to look for
    tags = [s for s in statements if "cloudwatch:ListTagsForResource" in actions(s)]
    # (with @aws-cdk/aws-iam:minimizePolicies the statement may also hold DescribeAlarms, on the same alarms)
    assert len(tags) == 1 and actions(tags[0]) <= {
        "cloudwatch:ListTagsForResource",
        "cloudwatch:DescribeAlarms",
    }
    assert ":alarm:*" in str(tags[0]["Resource"])
    intake = next(
        fn
        for fn in resources_of(template_json, "AWS::Lambda::Function").values()
        if fn["Properties"]["FunctionName"] == _role("intake")
    )
    assert intake["Properties"]["Environment"]["Variables"]["ALARM_OPT_IN_TAG"] == "controlroom:respond=true"


def _audit_key(template: dict[str, Any]) -> str:
    (key,) = (
        logical
        for logical, resource in resources_of(template, "AWS::KMS::Key").items()
        if resource["Properties"].get("KeySpec") == "HMAC_256"
    )
    return key


def test_audit_chain_key_is_hmac_and_only_agents_mac_with_it(local_json: dict[str, Any]) -> None:
    # Given the audit chain's key
    key = _audit_key(local_json)
    assert resources_of(local_json, "AWS::KMS::Key")[key]["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    by_role = statements_by_role(local_json)
    for agent in AGENTS:
        on_key = [s for s in by_role[_role(agent)] if mentions(s, key)]
        # Then every agent (each appends its decision record) may MAC a chain head, and only that
        assert {a for s in on_key for a in actions(s)} == {"kms:GenerateMac"}, agent
    # And no role in the stack may verify or administer it: VerifyMac is the verifier policy's alone
    for role, statements in by_role.items():
        granted = {a for s in statements if mentions(s, key) for a in actions(s)}
        assert granted <= {"kms:GenerateMac"}, role
    (verifier,) = resources_of(local_json, "AWS::IAM::ManagedPolicy").values()
    verifier_statements = verifier["Properties"]["PolicyDocument"]["Statement"]
    on_key = {a for s in verifier_statements if mentions(s, key) for a in actions(s)}
    assert on_key == {"kms:VerifyMac"}
    audit_table = logical_id(local_json, "AWS::DynamoDB::Table", "TableName", "controlroom-local-audit")
    on_table = {a for s in verifier_statements if mentions(s, audit_table) for a in actions(s)}
    assert on_table == {"dynamodb:GetItem", "dynamodb:Query"}


def test_only_evidence_reads_the_service_graph_and_the_change_feed(local_json: dict[str, Any]) -> None:
    # The graph tools' read-only calls are granted to the Evidence role and to no other role.
    by_role = statements_by_role(local_json)
    for call in ("xray:GetServiceGraph", "cloudtrail:LookupEvents"):
        holders = {role for role, statements in by_role.items() if call in _allowed(statements)}
        assert holders == {_role("evidence")}, (call, holders)
