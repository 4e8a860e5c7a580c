"""Builders of flow state for the policy, execute, close and escalate tests (no tests in this module)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from controlroom.contracts import (
    AlarmSummary,
    Diagnosis,
    EvidenceBundle,
    Hypothesis,
    IncidentRef,
    IntakeResult,
    Plan,
    ResourceRef,
    utcnow,
)

INCIDENT_ID = "inc-00000000000000a1"


def incident(incident_id: str = INCIDENT_ID) -> IncidentRef:
    now = utcnow()
    return IncidentRef(
        incident_id=incident_id,
        environment="test",
        account="123456789012",
        region="us-east-1",
        alarm=AlarmSummary(
            alarm_name="checkout-errors",
            alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-errors",
            kind="single_metric",
            state_reason="Threshold crossed",
            fired_at=now,
        ),
        resource=ResourceRef(kind="lambda_function", name="checkout", qualifier="live"),
        dedupe_key=f"checkout-errors|{incident_id}",
        opened_at=now,
        deadline_at=now + timedelta(hours=1),
    )


def intake(incident_id: str = INCIDENT_ID) -> IntakeResult:
    return IntakeResult(outcome="opened", incident=incident(incident_id))


def evidence(tags: dict[str, str] | None = None) -> EvidenceBundle:
    now = utcnow()
    return EvidenceBundle(window_start=now - timedelta(hours=1), window_end=now, resource_tags=tags or {})


def diagnosis(confidence: float = 0.9) -> Diagnosis:
    return Diagnosis(
        produced_by="fallback",
        hypotheses=[
            Hypothesis(
                cause="recent_change",
                summary="Version 2 was published just before the errors began.",
                confidence=confidence,
                evidence_refs=["change:lambda_version:2"],
                change_ref="change:lambda_version:2",
            )
        ],
    )


ACTIONS: dict[str, dict[str, Any]] = {
    "rollback_lambda_alias": {
        "type": "rollback_lambda_alias",
        "function_name": "checkout",
        "alias": "live",
        "target_version": "1",
        "from_version": "2",
    },
    "rollback_ecs_service": {
        "type": "rollback_ecs_service",
        "cluster": "shop",
        "service": "web",
        "target_task_definition": "web:1",
        "from_task_definition": "web:2",
    },
    "stop_codedeploy_deployment": {"type": "stop_codedeploy_deployment", "deployment_id": "d-ABCDEF123"},
    "run_ssm_automation": {
        "type": "run_ssm_automation",
        "document_name": "AWS-RestartEC2Instance",
        "parameters": {"InstanceId": ["i-0123456789abcdef0"]},
    },
    "notify_only": {"type": "notify_only", "message": "Errors rose after version 2; consider a rollback."},
}


def action(action_type: str, action_id: str = "act-1", **overrides: Any) -> dict[str, Any]:
    return {
        **ACTIONS[action_type],
        "action_id": action_id,
        "rationale": "Roll back the suspect change.",
        **overrides,
    }


def plan(*actions: dict[str, Any], incident_id: str = INCIDENT_ID) -> Plan:
    return Plan(
        incident_id=incident_id,
        summary="Roll back the change that preceded the errors.",
        actions=list(actions) or [action("rollback_lambda_alias")],
        produced_by="fallback",
        based_on="recent_change",
    )


def state(**parts: Any) -> dict[str, Any]:
    """A flow state as the state machine passes it: every part dumped to JSON-ready data."""
    return {
        name: part.model_dump(mode="json") if hasattr(part, "model_dump") else part
        for name, part in parts.items()
    }


def topic_with_inbox(aws: Any) -> tuple[str, Any]:
    """An SNS topic subscribed by an SQS queue; returns the topic ARN and a function reading the inbox."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name="oncall")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="oncall-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def inbox() -> list[dict[str, Any]]:
        import json

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return topic_arn, inbox


def create_function(aws: Any, name: str, tags: dict[str, str] | None = None) -> str:
    """A Lambda function in moto (for tag reads), tagged ``tags``; returns its ARN."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    iam = aws.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    response = aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
        Tags=tags or {},
    )
    return str(response["FunctionArn"])
