"""Shared builders for the approval tests (no tests here): flow state, environment, a recording SFN client."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from controlroom.approval.secret import forget_keys
from controlroom.contracts import (
    ActionDecision,
    AlarmSummary,
    ChangeRecord,
    Diagnosis,
    EvidenceBundle,
    Hypothesis,
    IncidentRef,
    IntakeResult,
    MissingEvidence,
    Plan,
    PolicyDecision,
    ResourceRef,
    RollbackLambdaAlias,
    utcnow,
)
from controlroom.contracts.policy import AutonomyMode

TASK_TOKEN = "TOKEN-must-never-leak-0f9e8d7c6b5a"
INCIDENT_ID = "inc-00000000000000a1"
APPROVERS = ["alice@example.com", "bob@example.com", "carol@example.com"]
SENDER = "controlroom@example.com"
SIGNING_KEY = "k" * 48
BASE_URL = "https://approvals.example.test/prod"


def incident(alarm_name: str = "checkout-errors") -> IncidentRef:
    now = utcnow()
    return IncidentRef(
        incident_id=INCIDENT_ID,
        environment="test",
        account="123456789012",
        region="us-east-1",
        alarm=AlarmSummary(
            alarm_name=alarm_name,
            alarm_arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm_name}",
            kind="single_metric",
            state_reason="Threshold Crossed: 5 errors",
            fired_at=now,
            namespace="AWS/Lambda",
            metric_name="Errors",
        ),
        resource=ResourceRef(kind="lambda_function", name="checkout", qualifier="live"),
        dedupe_key="d" * 64,
        opened_at=now,
        deadline_at=now + timedelta(hours=1),
    )


def plan(summary: str = "Roll the live alias back to version 1") -> Plan:
    action = RollbackLambdaAlias(
        action_id="act-1",
        rationale="version 2 deployed 3 minutes before the errors",
        function_name="checkout",
        alias="live",
        target_version="1",
        from_version="2",
    )
    return Plan(
        incident_id=INCIDENT_ID,
        summary=summary,
        actions=[action],
        produced_by="fallback",
        based_on="recent_change",
    )


def flow_state(
    alarm_name: str = "checkout-errors", task_token: str = TASK_TOKEN, **overrides: Any
) -> dict[str, Any]:
    """The Payload the ASL's RequestApproval state sends, JSON-ready."""
    now = utcnow()
    the_plan = overrides.pop("plan", None) or plan()
    evidence = EvidenceBundle(
        window_start=now - timedelta(hours=1),
        window_end=now,
        changes=[
            ChangeRecord(
                ref="change:lambda_version:2",
                kind="lambda_alias",
                resource_name="checkout",
                changed_at=now - timedelta(minutes=3),
                summary="alias live moved 1 -> 2",
                current="2",
                previous="1",
            )
        ],
        missing=[MissingEvidence(tool="logs", error_type="AccessDenied", message="no permission")],
    )
    diagnosis = Diagnosis(
        hypotheses=[
            Hypothesis(
                cause="recent_change",
                summary="version 2 broke checkout",
                confidence=0.82,
                evidence_refs=["change:lambda_version:2"],
            )
        ],
        produced_by="fallback",
    )
    policy = PolicyDecision(
        outcome="approval",
        environment="test",
        autonomy_mode=AutonomyMode.SUPERVISED,
        dry_run=False,
        plan_digest=overrides.pop("policy_digest", None) or str(the_plan.plan_digest),
        confidence=0.82,
        reason="medium risk needs a human",
        decisions=[
            ActionDecision(
                action_id="act-1",
                action_type="rollback_lambda_alias",
                risk="medium",
                effect="needs_approval",
                reasons=["policy-medium-risk"],
            )
        ],
    )
    state = {
        "task_token": task_token,
        "intake": IntakeResult(outcome="opened", incident=incident(alarm_name)).model_dump(mode="json"),
        "evidence": evidence.model_dump(mode="json"),
        "diagnosis": diagnosis.model_dump(mode="json"),
        "plan": the_plan.model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
        "control": {"handoffs": 4},
    }
    state.update(overrides)
    return state


def configure(
    aws: Any, monkeypatch: Any, approvers: list[str] | None = None, required: int = 1, ttl_seconds: int = 600
) -> str:
    """Signing secret, verified sender and approval settings in the environment; returns the secret ARN."""
    forget_keys()
    arn = aws.client("secretsmanager").create_secret(Name="approval-signing", SecretString=SIGNING_KEY)["ARN"]
    aws.client("ses").verify_email_identity(EmailAddress=SENDER)
    for name, value in {
        "APPROVAL_SIGNING_SECRET_ARN": arn,
        "APPROVAL_SENDER": SENDER,
        "APPROVAL_BASE_URL": BASE_URL,
        "APPROVERS": ",".join(APPROVERS if approvers is None else approvers),
        "REQUIRED_APPROVALS": str(required),
        "APPROVAL_TTL_SECONDS": str(ttl_seconds),
    }.items():
        monkeypatch.setenv(name, value)
    return arn


def open_incident(aws: Any, alarm_name: str = "checkout-errors") -> None:
    from controlroom.runtime import stores

    stores().checkpoint.open_incident(incident(alarm_name), execution_arn=None)


class RecordingSfn:
    """Stands in for the Step Functions client: records send_task_* calls, or fails with an error code."""

    def __init__(self, error_code: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error_code = error_code
        self._lock = threading.Lock()

    def _call(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((name, kwargs))
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "no"}}, name)
        return {}

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("send_task_success", kwargs)

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        return self._call("send_task_failure", kwargs)


def request_approval(lambda_context: Any, **state: Any) -> dict[str, Any]:
    """Run the RequestApproval agent as its Lambda handler does; return its output."""
    from controlroom.agents.request_approval import REQUEST_APPROVAL
    from controlroom.runtime import run_agent

    return run_agent(REQUEST_APPROVAL, flow_state(**state), lambda_context)


def put_pending(
    approvers: list[str] | None = None, required: int = 1, expires_in: int = 600, plan_digest: str = "p" * 64
) -> str:
    """Store a pending approval directly (no brief, no emails); return its id."""
    from controlroom.agents.request_approval import new_approval_id
    from controlroom.contracts import ApprovalRecord
    from controlroom.runtime import stores

    now = utcnow()
    record = ApprovalRecord(
        approval_id=new_approval_id(),
        incident_id=INCIDENT_ID,
        plan_digest=plan_digest,
        approvers=APPROVERS if approvers is None else approvers,
        required_approvals=required,
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
    )
    stores().checkpoint.put_approval(record, TASK_TOKEN)
    return record.approval_id


def atomic_moto_writes(monkeypatch: Any) -> None:
    """Make moto's DynamoDB writes atomic per call, as DynamoDB's are.

    moto evaluates a ConditionExpression and applies the write without a lock, so two threads
    can both pass the same condition; real DynamoDB serialises writes to an item. The lock
    restores that guarantee so a race test exercises our conditional write, not moto's gap.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)
