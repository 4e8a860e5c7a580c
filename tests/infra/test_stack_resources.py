"""The local stack has the tables, topic, layer and one function per agent the other components expect."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_cdk.app import build_app
from infra_cdk.components.agents import MissingFunctionCode, function_name, pascal
from infra_cdk.components.permissions import AGENTS

from controlroom.settings import Settings, load_settings
from controlroom.store.tables import AUDIT_KEYS, CHECKPOINT_GSI, CHECKPOINT_KEYS, CHECKPOINT_TTL_ATTRIBUTE
from tests.infra.template_tools import resources_of, statements_by_role

POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def test_one_stack_has_exactly_the_expected_resources(local: Any) -> None:
    # Given the local environment synthesized once
    stack, template = local
    # Then its name is controlroom-local and it holds one of each shared resource and every agent
    assert stack.stack_name == "controlroom-local"
    expected = {
        "AWS::DynamoDB::Table": 2,
        "AWS::SNS::Topic": 1,
        "AWS::Lambda::LayerVersion": 1,
        "AWS::Lambda::Function": len(AGENTS),
        # the incident flow and the deployment flow
        "AWS::StepFunctions::StateMachine": 2,
        "AWS::StepFunctions::StateMachineVersion": 2,
        "AWS::StepFunctions::StateMachineAlias": 2,
        # every agent is published as a version, reached through the environment's alias
        "AWS::Lambda::Version": len(AGENTS),
        "AWS::Lambda::Alias": len(AGENTS),
        # the data key and the audit chain's HMAC key
        "AWS::KMS::Key": 2,
        "AWS::CloudWatch::Dashboard": 1,
        # alarms to Intake, executions that ended unclosed to Intake, deployment requests to deployments,
        # the kill-switch monitor's schedule and flip rules
        "AWS::Events::Rule": 5,
        # the approval delivery sweep
        "AWS::Scheduler::Schedule": 1,
        # rejected events too large for the checkpoint table
        "AWS::S3::Bucket": 1,
        # the two rules' dead-letter queues and the agents' asynchronous one
        "AWS::SQS::Queue": 3,
        # one per agent, plus each state machine's, the deployment rule's and the delivery sweep
        # schedule's (the incident rules invoke Intake through its resource policy)
        "AWS::IAM::Role": len(AGENTS) + 4,
        # one per agent, plus each state machine's
        "AWS::Logs::LogGroup": len(AGENTS) + 2,
    }
    for resource_type, count in expected.items():
        template.resource_count_is(resource_type, count)


def test_checkpoint_table_matches_the_store_key_schema(local_template: Any) -> None:
    # Then the checkpoint table is the one controlroom.store.tables creates in tests
    local_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "controlroom-local-checkpoint",
            "KeySchema": [
                {"AttributeName": CHECKPOINT_KEYS["partition"], "KeyType": "HASH"},
                {"AttributeName": CHECKPOINT_KEYS["sort"], "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": CHECKPOINT_GSI["name"],
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": CHECKPOINT_GSI["partition"], "KeyType": "HASH"},
                        {"AttributeName": CHECKPOINT_GSI["sort"], "KeyType": "RANGE"},
                    ],
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": CHECKPOINT_TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_audit_table_is_keyed_by_chain_and_sequence(local_template: Any) -> None:
    local_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "controlroom-local-audit",
            "KeySchema": [
                {"AttributeName": AUDIT_KEYS["partition"], "KeyType": "HASH"},
                {"AttributeName": AUDIT_KEYS["sort"], "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "chain_id", "AttributeType": "S"},
                {"AttributeName": "seq", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_every_agent_has_a_function_with_its_own_role(local_json: dict[str, Any]) -> None:
    # Given every Lambda function of the template
    functions = {
        fn["Properties"]["FunctionName"]: fn["Properties"]
        for fn in resources_of(local_json, "AWS::Lambda::Function").values()
    }
    # Then each agent has one, named predictably, on Python 3.12 x86_64 with tracing and the layer
    assert set(functions) == {function_name("controlroom-local", agent) for agent in AGENTS}
    assert "controlroom-local-request-approval" in functions
    roles = [props["Role"]["Fn::GetAtt"][0] for props in functions.values()]
    assert len(set(roles)) == len(AGENTS), "two agents share a role"
    for props in functions.values():
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["x86_64"]
        assert props["Handler"] == "handler.handler"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 1
        assert props["Timeout"] <= 60  # local agent_timeout_seconds
        assert "LogGroup" in props["LoggingConfig"]


def test_agent_environment_is_valid_settings(local_json: dict[str, Any]) -> None:
    # Given each function's environment, with CloudFormation references replaced by plain strings
    for resource in resources_of(local_json, "AWS::Lambda::Function").values():
        variables = resource["Properties"]["Environment"]["Variables"]
        plain = {
            name: value if isinstance(value, str) else f"resolved-{name.lower()}"
            for name, value in variables.items()
        }
        # Then every variable is a Settings field (or a Powertools one) and the whole set validates
        assert set(plain) - POWERTOOLS <= set(Settings.model_fields)
        settings = load_settings(plain)
        assert settings.ENVIRONMENT == "local"
        assert settings.AUTONOMY_MODE == "supervised"
        assert settings.AGENT_NAME in AGENTS
        assert resource["Properties"]["FunctionName"] == function_name(
            "controlroom-local", settings.AGENT_NAME
        )
        assert settings.approvers == ["oncall@example.com"]
        # the approval link expires before the approval state times out (300 s locally)
        assert 5 <= settings.APPROVAL_TTL_SECONDS < 300
        assert plain["POWERTOOLS_SERVICE_NAME"] == "controlroom"
        assert variables["CHECKPOINT_TABLE"]["Ref"].startswith("DataCheckpointTable")
        assert variables["AUDIT_TABLE"]["Ref"].startswith("DataAuditTable")


def test_log_groups_have_retention(local_template: Any) -> None:
    for agent in AGENTS:
        local_template.has_resource_properties(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": f"/aws/lambda/{function_name('controlroom-local', agent)}",
                "RetentionInDays": 1,
            },
        )


def test_outputs_name_every_resource_the_local_engine_looks_up(local_template: Any) -> None:
    outputs = local_template.to_json()["Outputs"]
    expected = {
        "StateMachineArn",
        "CheckpointTableName",
        "AuditTableName",
        "AuditKeyArn",
        "TopicArn",
        *(f"{pascal(agent)}FunctionName" for agent in AGENTS),
    }
    assert expected <= set(outputs)
    assert "RequestApprovalFunctionName" in outputs and "ApprovalCallbackFunctionName" in outputs


def test_local_template_has_no_bootstrap_check_for_moto(local_json: dict[str, Any]) -> None:
    # moto's CloudFormation cannot resolve the SSM parameter behind the bootstrap-version rule
    assert "Rules" not in local_json
    assert "BootstrapVersion" not in local_json.get("Parameters", {})


def test_local_is_destroyable_and_prod_is_retained(local_json: dict[str, Any], prod: Any) -> None:
    _, prod_template = prod
    prod_json = prod_template.to_json()
    for template, policy, protected in ((local_json, "Delete", False), (prod_json, "Retain", True)):
        tables = resources_of(template, "AWS::DynamoDB::Table").values()
        assert {table["DeletionPolicy"] for table in tables} == {policy}
        assert {table["Properties"].get("DeletionProtectionEnabled", False) for table in tables} == {
            protected
        }


def test_prod_is_gated_with_two_approvals(prod: Any) -> None:
    _, template = prod
    for resource in resources_of(template.to_json(), "AWS::Lambda::Function").values():
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables["AUTONOMY_MODE"] == "gated"
        assert variables["REQUIRED_APPROVALS"] == "2"
        assert len(variables["APPROVERS"].split(",")) >= 2


def test_roles_are_named_per_agent(local_json: dict[str, Any]) -> None:
    assert {function_name("controlroom-local", agent) for agent in AGENTS} <= set(
        statements_by_role(local_json)
    )


def test_synth_fails_naming_every_missing_handler(tmp_path: Path, functions_dir: Path) -> None:
    # Given a functions/ folder where two agents have no handler yet
    partial = tmp_path / "functions"
    shutil.copytree(functions_dir, partial)
    for agent in ("verify", "request_approval"):
        shutil.rmtree(partial / agent)
    # When the app is built, then it refuses, naming both missing handlers
    with pytest.raises(MissingFunctionCode) as missing:
        build_app({"env": "local"}, outdir=str(tmp_path / "out"), functions_dir=partial)
    assert "functions/request_approval/handler.py" in str(missing.value)
    assert "functions/verify/handler.py" in str(missing.value)


def test_the_kill_switch_parameter_and_its_monitor(local: Any) -> None:
    _, template = local
    template_json = template.to_json()
    (parameter,) = [
        r["Properties"] for r in template_json["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"
    ]
    # The template's value never changes, so no deploy overwrites a halt flipped at run time
    assert (parameter["Name"], parameter["Value"]) == ("/controlroom/local/autonomy", '{"state": "run"}')
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
    }
    # The monitor runs every minute (the ops alarm's gauge) and on each flip CloudTrail reports
    assert rules["controlroom-local-autonomy-monitor"]["ScheduleExpression"] == "rate(1 minute)"
    pattern = rules["controlroom-local-autonomy-flips"]["EventPattern"]
    assert pattern["detail"]["requestParameters"] == {"name": ["/controlroom/local/autonomy"]}
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
