"""Execute against moto: real changes, idempotent retries, dry runs and the safety checks."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from controlroom.agents.execute import EXECUTE
from controlroom.aws import client
from controlroom.contracts import ActionDecision, ApprovalOutcome, PolicyDecision
from controlroom.errors import ActionFailed, ActionNotAllowed, IntentNotRecorded
from controlroom.runtime import run_agent, stores
from tests.unit.test_policy_flow_state import INCIDENT_ID, action, incident, intake, plan, state


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _lambda_with_alias_at_version_2(aws) -> None:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="checkout-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="checkout",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )
    assert lam.publish_version(FunctionName="checkout")["Version"] == "1"
    lam.update_function_code(FunctionName="checkout", ZipFile=_zip() + b"")
    lam.update_function_configuration(FunctionName="checkout", Description="v2")
    assert lam.publish_version(FunctionName="checkout", Description="v2")["Version"] == "2"
    lam.create_alias(FunctionName="checkout", Name="live", FunctionVersion="2")


def _alias_version(aws) -> str:
    return aws.client("lambda").get_alias(FunctionName="checkout", Name="live")["FunctionVersion"]


def _decision(the_plan, effect="allow", outcome="auto", dry_run=False, digest=None) -> PolicyDecision:
    return PolicyDecision(
        outcome=outcome,
        environment="test",
        autonomy_mode="shadow" if dry_run else "supervised",
        dry_run=dry_run,
        plan_digest=digest or the_plan.plan_digest,
        confidence=0.9,
        reason="test",
        decisions=[
            ActionDecision(action_id=a.action_id, action_type=a.type, risk="medium", effect=effect)
            for a in the_plan.actions
        ],
    )


def _approval(the_plan, digest=None) -> ApprovalOutcome:
    return ApprovalOutcome(
        approval_id="apr-" + "0" * 32,
        verdict="approve",
        approvers=["oncall@example.com"],
        plan_digest=digest or the_plan.plan_digest,
    )


@pytest.fixture
def opened(aws):
    stores().checkpoint.open_incident(incident(), None)
    return aws


def _count_calls(operation: str) -> list[str]:
    calls: list[str] = []
    service = {"UpdateAlias": "lambda", "UpdateService": "ecs"}[operation]
    client(service).meta.events.register(
        f"before-call.{service}.{operation}", lambda **kwargs: calls.append(operation)
    )
    return calls


def test_approved_rollback_moves_the_alias_and_records_it(opened, lambda_context):
    # Given the alias at version 2 and an approved plan to roll it back to 1
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(
        intake=intake(),
        plan=the_plan,
        policy=_decision(the_plan, "needs_approval", "approval"),
        approval=_approval(the_plan),
    )
    # When Execute runs
    report = run_agent(EXECUTE, event, lambda_context)
    # Then the alias really points at version 1 and the report says so
    assert _alias_version(opened) == "1"
    assert report["dry_run"] is False
    assert report["results"][0]["status"] == "succeeded"
    assert report["results"][0]["before"] == {"function_version": "2"}
    assert report["results"][0]["after"] == {"function_version": "1"}
    # And the audit chain holds the intent (before the change), the outcome and the decision record
    audit = stores().audit
    records = audit.records(INCIDENT_ID)
    assert [record.kind for record in records] == ["action_intent", "action", "decision"]
    intent = records[0].payload
    assert intent["target"] == "lambda:checkout:live"
    assert (intent["from"], intent["to"]) == ("version 2", "version 1")
    assert intent["idempotency_key"] and intent["plan_digest"] == the_plan.plan_digest
    assert audit.verify(INCIDENT_ID).ok
    assert stores().checkpoint.steps(INCIDENT_ID)[0].output == report


def test_retried_execute_does_not_repeat_the_change(opened, lambda_context):
    # Given an Execute that already moved the alias from 2 to 1
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan))
    calls = _count_calls("UpdateAlias")
    first = run_agent(EXECUTE, event, lambda_context)
    # When the state machine retries the same Execute
    second = run_agent(EXECUTE, event, lambda_context)
    # Then update_alias was called once in total and the retry replays the first result
    assert calls == ["UpdateAlias"]
    assert first["results"][0]["status"] == second["results"][0]["status"] == "succeeded"
    assert "replayed" in second["results"][0]["detail"]


def test_dry_run_reads_but_changes_nothing(opened, lambda_context):
    # Given the alias at version 2 and a shadow-mode decision (dry run)
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan, dry_run=True))
    calls = _count_calls("UpdateAlias")
    # When Execute runs
    report = run_agent(EXECUTE, event, lambda_context)
    # Then nothing moved, and the report shows what would have changed
    assert _alias_version(opened) == "2" and calls == []
    result = report["results"][0]
    assert report["dry_run"] is True and result["status"] == "dry_run"
    assert result["before"] == {"function_version": "2"} and result["after"] == {"function_version": "1"}


def test_action_dry_run_setting_forces_a_dry_run(opened, lambda_context, monkeypatch):
    _lambda_with_alias_at_version_2(opened)
    monkeypatch.setenv("ACTION_DRY_RUN", "true")
    the_plan = plan(action("rollback_lambda_alias"))
    report = run_agent(
        EXECUTE, state(intake=intake(), plan=the_plan, policy=_decision(the_plan)), lambda_context
    )
    assert report["dry_run"] is True and _alias_version(opened) == "2"


def test_alias_already_at_target_is_a_no_op(opened, lambda_context):
    _lambda_with_alias_at_version_2(opened)
    opened.client("lambda").update_alias(FunctionName="checkout", Name="live", FunctionVersion="1")
    the_plan = plan(action("rollback_lambda_alias"))
    calls = _count_calls("UpdateAlias")
    report = run_agent(
        EXECUTE, state(intake=intake(), plan=the_plan, policy=_decision(the_plan)), lambda_context
    )
    assert report["results"][0]["status"] == "skipped" and calls == []


def test_world_changed_refuses_and_escalates(opened, lambda_context):
    # Given a plan made when the alias was at 2, but someone since pointed it at version 3
    _lambda_with_alias_at_version_2(opened)
    lam = opened.client("lambda")
    lam.update_function_configuration(FunctionName="checkout", Description="v3")
    assert lam.publish_version(FunctionName="checkout", Description="v3")["Version"] == "3"
    lam.update_alias(FunctionName="checkout", Name="live", FunctionVersion="3")
    the_plan = plan(action("rollback_lambda_alias"))
    # When Execute runs, Then it refuses with ActionFailed and leaves the alias alone
    with pytest.raises(ActionFailed, match="world changed"):
        run_agent(EXECUTE, state(intake=intake(), plan=the_plan, policy=_decision(the_plan)), lambda_context)
    assert _alias_version(opened) == "3"
    # And the failed result is audited, with the error decision record after it
    records = stores().audit.records(INCIDENT_ID)
    assert [r.kind for r in records] == ["action_intent", "action", "decision"]
    assert records[1].payload["result"]["status"] == "failed"
    assert records[2].payload["status"] == "error" and records[2].payload["error_type"] == "ActionFailed"


def test_no_change_when_the_intent_cannot_be_written(opened, lambda_context, monkeypatch):
    # Given the audit table refusing the intent record (throttled, say), and a count of adapter calls
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    audit = stores().audit
    append = audit.append

    def refuse_intents(chain_id, kind, actor, payload, **options):
        if kind == "action_intent":
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "TransactWriteItems",
            )
        return append(chain_id, kind, actor, payload, **options)

    monkeypatch.setattr(audit, "append", refuse_intents)
    calls = _count_calls("UpdateAlias")
    # When Execute runs, Then it stops with IntentNotRecorded before calling the adapter
    with pytest.raises(IntentNotRecorded, match="intent could not be audited"):
        run_agent(EXECUTE, state(intake=intake(), plan=the_plan, policy=_decision(the_plan)), lambda_context)
    assert calls == [] and _alias_version(opened) == "2"
    # And the decision record says why
    (decision,) = stores().audit.records(INCIDENT_ID)
    assert decision.payload["error_type"] == "IntentNotRecorded"


def test_digest_mismatch_is_not_allowed(opened, lambda_context):
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan, digest="f" * 64))
    with pytest.raises(ActionNotAllowed, match="another plan"):
        run_agent(EXECUTE, event, lambda_context)
    assert _alias_version(opened) == "2"


def test_missing_approval_is_not_allowed(opened, lambda_context):
    _lambda_with_alias_at_version_2(opened)
    the_plan = plan(action("rollback_lambda_alias"))
    event = state(intake=intake(), plan=the_plan, policy=_decision(the_plan, "needs_approval", "approval"))
    with pytest.raises(ActionNotAllowed, match="approval"):
        run_agent(EXECUTE, event, lambda_context)
    assert _alias_version(opened) == "2"


def test_ecs_service_rolls_back_to_the_previous_task_definition(opened, lambda_context):
    # Given an ECS service running web:2
    ecs = opened.client("ecs")
    ecs.create_cluster(clusterName="shop")
    container = [{"name": "web", "image": "nginx", "memory": 128}]
    for _ in range(2):
        ecs.register_task_definition(family="web", containerDefinitions=container)
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web:2", desiredCount=1)
    the_plan = plan(action("rollback_ecs_service"))
    event = state(
        intake=intake(),
        plan=the_plan,
        policy=_decision(the_plan, "needs_approval", "approval"),
        approval=_approval(the_plan),
    )
    # When Execute runs twice (a retry)
    calls = _count_calls("UpdateService")
    report = run_agent(EXECUTE, event, lambda_context)
    run_agent(EXECUTE, event, lambda_context)
    # Then the service runs web:1, changed once
    service = ecs.describe_services(cluster="shop", services=["web"])["services"][0]
    assert service["taskDefinition"].rsplit("/", 1)[-1] == "web:1"
    assert report["results"][0]["status"] == "succeeded" and calls == ["UpdateService"]


def test_notify_only_publishes_to_the_topic(opened, lambda_context, monkeypatch):
    sns, sqs = opened.client("sns"), opened.client("sqs")
    topic = sns.create_topic(Name="oncall")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("TOPIC_ARN", topic)
    the_plan = plan(action("notify_only"))
    report = run_agent(
        EXECUTE, state(intake=intake(), plan=the_plan, policy=_decision(the_plan)), lambda_context
    )
    assert report["results"][0]["status"] == "succeeded"
    messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert len(messages) == 1 and "consider a rollback" in messages[0]["Body"]


def test_executed_at_is_now():
    # A guard on the test helpers themselves: fixed ids, fresh timestamps.
    assert incident().opened_at.tzinfo is not None
    assert abs((datetime.now(UTC) - incident().opened_at).total_seconds()) < 60
