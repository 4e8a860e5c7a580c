"""Every environment's template, asserted against its cdk.json settings: encryption, retention, versions,
tracing and the alarm storm guard. Prod alone keeps its data when the stack goes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from infra_cdk.components.permissions import AGENTS
from infra_cdk.config import read_cdk_json_context, resolve

from tests.infra.template_tools import (
    actions,
    agent_alias_id,
    rendered_join,
    resources_of,
    resources_under,
    rule_named,
    statements_by_role,
)

ENVIRONMENTS = ["dev", "staging", "prod"]
# What must stay when a prod stack is deleted or a resource replaced: data, its key, its record.
RETAINED_IN_PROD = (
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
)


def _config(env: str) -> Any:
    return resolve({**read_cdk_json_context(), "env": env})[1]


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def env_template(request: pytest.FixtureRequest, synth: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    stack, template = synth(request.param)
    assert stack.stack_name == f"controlroom-{request.param}"
    return request.param, dict(template.to_json())


def _key_id(template: dict[str, Any]) -> str:
    """The data key: the one symmetric key (the other is the audit chain's HMAC key)."""
    (key_id,) = (
        logical
        for logical, key in resources_of(template, "AWS::KMS::Key").items()
        if "KeySpec" not in key["Properties"]
    )
    return key_id


def _refs_key(value: Any, key_id: str) -> bool:
    return value in ({"Fn::GetAtt": [key_id, "Arn"]}, {"Ref": key_id})


def test_one_rotated_customer_managed_key_encrypts_every_store(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    _, template = env_template
    key_id = _key_id(template)
    key = resources_of(template, "AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", name
        assert _refs_key(sse["KMSMasterKeyId"], key_id), name
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    (topic,) = resources_of(template, "AWS::SNS::Topic").values()
    assert _refs_key(topic["Properties"]["KmsMasterKeyId"], key_id)
    for name, queue in resources_of(template, "AWS::SQS::Queue").items():
        assert _refs_key(queue["Properties"]["KmsMasterKeyId"], key_id), name
    for name, group in resources_of(template, "AWS::Logs::LogGroup").items():
        assert _refs_key(group["Properties"]["KmsKeyId"], key_id), name
    for name, secret in resources_of(template, "AWS::SecretsManager::Secret").items():
        assert _refs_key(secret["Properties"]["KmsKeyId"], key_id), name


def test_prod_alone_retains_data_and_protects_tables(env_template: tuple[str, dict[str, Any]]) -> None:
    env, template = env_template
    retain = env == "prod"
    for resource_type in RETAINED_IN_PROD:
        for name, resource in resources_of(template, resource_type).items():
            expected = "Retain" if retain else "Delete"
            assert resource.get("DeletionPolicy") == expected, (env, name)
            assert resource.get("UpdateReplacePolicy") == expected, (env, name)
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is retain, (env, name)


def test_log_retention_follows_the_environment(env_template: tuple[str, dict[str, Any]]) -> None:
    env, template = env_template
    days = _config(env).log_retention_days
    groups = resources_of(template, "AWS::Logs::LogGroup")
    # one per agent, plus the incident and the deployment state machines'
    assert len(groups) == len(AGENTS) + 2
    assert {group["Properties"]["RetentionInDays"] for group in groups.values()} == {days}


def test_only_intake_has_reserved_concurrency(env_template: tuple[str, dict[str, Any]]) -> None:
    env, template = env_template
    reserved = {
        fn["Properties"]["FunctionName"]: fn["Properties"].get("ReservedConcurrentExecutions")
        for fn in resources_of(template, "AWS::Lambda::Function").values()
    }
    expected = _config(env).intake_reserved_concurrency
    assert expected is not None
    assert {name: value for name, value in reserved.items() if value is not None} == {
        f"controlroom-{env}-intake": expected
    }


def test_every_agent_is_traced_versioned_and_reached_through_the_environment_alias(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    functions = resources_of(template, "AWS::Lambda::Function")
    versions = resources_of(template, "AWS::Lambda::Version")
    aliases = resources_of(template, "AWS::Lambda::Alias")
    (dlq_id,) = [
        key
        for key, queue in resources_of(template, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == f"controlroom-{env}-agent-async-dlq"
    ]
    for function_id, function in functions.items():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}, function_id
        assert props["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}, function_id
        (version_id,) = [
            v for v, r in versions.items() if r["Properties"]["FunctionName"] == {"Ref": function_id}
        ]
        (alias,) = [a for a in aliases.values() if a["Properties"]["FunctionName"] == {"Ref": function_id}]
        assert alias["Properties"]["Name"] == env
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
        # Superseded versions stay, so an alias can move back without a deploy
        assert versions[version_id]["DeletionPolicy"] == "Retain"


def test_the_state_machine_is_traced_published_and_started_through_its_alias(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    (machine_id, machine) = next(
        iter(resources_under(template, "AWS::StepFunctions::StateMachine", "IncidentResponse").items())
    )
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    (version_id, version) = next(
        iter(resources_under(template, "AWS::StepFunctions::StateMachineVersion", "IncidentResponse").items())
    )
    assert version["Properties"]["StateMachineArn"] == {"Ref": machine_id}
    # A new revision of the definition publishes a new version
    assert version["Properties"]["StateMachineRevisionId"] == {
        "Fn::GetAtt": [machine_id, "StateMachineRevisionId"]
    }
    (alias,) = resources_under(template, "AWS::StepFunctions::StateMachineAlias", "IncidentResponse").values()
    assert alias["Properties"]["Name"] == env
    assert alias["Properties"]["RoutingConfiguration"] == [
        {"StateMachineVersionArn": {"Fn::GetAtt": [version_id, "Arn"]}, "Weight": 100}
    ]
    # Alarms go to Intake's environment alias (Intake dedupes, then starts the flow's alias)
    rule = rule_named(template, "-alarm-state-change")
    intake_alias = agent_alias_id(template, f"controlroom-{env}-intake")
    assert [target["Arn"] for target in rule["Properties"]["Targets"]] == [{"Ref": intake_alias}]
    # And only the environment's prefix opts an alarm in
    prefix = _config(env).alarm_name_prefix
    assert rule["Properties"]["EventPattern"]["detail"]["alarmName"] == [{"prefix": prefix}]


def test_an_operations_dashboard_per_environment(env_template: tuple[str, dict[str, Any]]) -> None:
    env, template = env_template
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"controlroom-{env}-operations"


def test_intake_may_start_the_incident_flow_only_through_its_alias(
    env_template: tuple[str, dict[str, Any]],
) -> None:
    env, template = env_template
    starters = {
        role: [s for s in statements if s["Effect"] == "Allow" and "states:StartExecution" in actions(s)]
        for role, statements in statements_by_role(template).items()
    }
    # Intake (the alarm rule's target) starts the incident flow; the rule itself no longer has a role
    assert f"controlroom-{env}-alarm-rule" not in starters
    # The qualified (alias) ARN scopes StartExecution down to that alias: not $LATEST, not an old version
    (statement,) = starters[f"controlroom-{env}-intake"]
    assert actions(statement) == {"states:StartExecution"}
    assert rendered_join(statement["Resource"]).endswith(
        f":stateMachine:controlroom-{env}-incident-response:{env}"
    )
    (alias,) = resources_under(template, "AWS::StepFunctions::StateMachineAlias", "IncidentResponse").values()
    assert alias["Properties"]["Name"] == env
