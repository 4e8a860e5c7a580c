"""RequestApproval: the token stored under a random id, one signed link per approver, nothing leaked."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from controlroom.approval.inbox import sent_approval_emails
from controlroom.approval.signing import verify
from controlroom.contracts import ApprovalStatus, IncidentStatus, utcnow
from controlroom.errors import ApprovalPlanMismatch, ConfigurationError
from controlroom.runtime import stores
from tests.unit.test_approval_support import (
    APPROVERS,
    BASE_URL,
    INCIDENT_ID,
    SIGNING_KEY,
    TASK_TOKEN,
    configure,
    open_incident,
    request_approval,
)

REPO = Path(__file__).resolve().parents[2]


def _dump_table(aws) -> str:
    return json.dumps(aws.dynamodb.Table(aws.checkpoint_table).scan()["Items"], default=str)


def test_stores_pending_approval_bound_to_plan_and_settings(aws, monkeypatch, lambda_context):
    # Given approval settings for three approvers, two approvals required, a 600 s TTL
    configure(aws, monkeypatch, required=2, ttl_seconds=600)
    open_incident(aws)
    # When RequestApproval runs
    output = request_approval(lambda_context)
    # Then a pending approval with a random id holds the plan digest, approvers, threshold and expiry
    approval_id = output["approval_id"]
    assert re.fullmatch(r"apr-[0-9a-f]{32}", approval_id)
    checkpoint = stores().checkpoint
    record = checkpoint.get_approval(approval_id)
    assert record.status is ApprovalStatus.PENDING
    assert record.approvers == APPROVERS and record.required_approvals == 2
    assert record.plan_digest == checkpoint.approval_brief(approval_id).plan_digest
    assert timedelta(seconds=590) < record.expires_at - utcnow() <= timedelta(seconds=600)
    # And the token is retrievable by id only, and the incident waits for that approval
    assert checkpoint.task_token(approval_id) == TASK_TOKEN
    assert checkpoint.incident_approval_id(INCIDENT_ID) == approval_id
    assert checkpoint.get_incident(INCIDENT_ID).status is IncidentStatus.AWAITING_APPROVAL
    assert output["notified"] == APPROVERS


def test_each_approver_gets_one_email_with_their_own_valid_link(aws, monkeypatch, lambda_context):
    # Given three approvers
    configure(aws, monkeypatch)
    open_incident(aws)
    # When RequestApproval runs
    approval_id = request_approval(lambda_context)["approval_id"]
    # Then each approver got exactly one email whose single link is signed for them
    emails = sent_approval_emails(approval_id=approval_id)
    assert sorted(address for email in emails for address in email.to) == sorted(APPROVERS)
    for email in emails:
        assert len(email.links) == 1
        link = urlsplit(email.links[0])
        assert f"{link.scheme}://{link.netloc}{link.path}" == f"{BASE_URL}/approvals/{approval_id}"
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert query["approver"] == email.to[0]
        claims = verify(
            SIGNING_KEY.encode(), approval_id, query["approver"], query["expires"], query["sig"], utcnow()
        )
        assert claims.approver == email.to[0]


def test_email_tells_the_approver_what_they_decide(aws, monkeypatch, lambda_context):
    # Given one approver
    configure(aws, monkeypatch, approvers=["alice@example.com"])
    open_incident(aws)
    # When RequestApproval runs
    request_approval(lambda_context)
    # Then the subject names the action, its target and the deadline; the email names the alarm, the
    # diagnosis and confidence, the action with its risk and the policy's reasons, the recent change, the
    # missing evidence and the expiry
    from moto.ses.models import ses_backends

    message = ses_backends["123456789012"]["us-east-1"].sent_messages[-1]
    record = stores().checkpoint.pending_approvals()[0]
    assert (
        message.subject
        == f"[TEST] Approve: roll back checkout live v2 -> v1 (expires {record.expires_at:%H:%M} UTC)"
    )
    for expected in (
        "Roll back checkout alias live from v2 to v1",
        "checkout-errors",
        "version 2 broke checkout",
        "82%",
        "medium",
        "medium risk needs a human",
        "policy-medium-risk",
        "alias live moved 1 -&gt; 2",
        "logs: AccessDenied",
        f"{record.expires_at:%Y-%m-%d %H:%M} UTC",
    ):
        assert expected in message.body, expected


def test_token_never_leaves_the_approval_item(aws, monkeypatch, lambda_context, caplog, capsys):
    # Given approval settings
    configure(aws, monkeypatch)
    open_incident(aws)
    # When RequestApproval runs
    approval_id = request_approval(lambda_context)["approval_id"]
    # Then the token is in no email, no audit record, no decision record, no log line
    from moto.ses.models import ses_backends

    bodies = [m.body + m.subject for m in ses_backends["123456789012"]["us-east-1"].sent_messages]
    assert bodies and not any(TASK_TOKEN in body for body in bodies)
    audit = stores().audit.records(INCIDENT_ID)
    assert {r.kind for r in audit} >= {"approval_requested", "decision"}
    assert TASK_TOKEN not in json.dumps([r.model_dump() for r in audit])
    steps = stores().checkpoint.steps(INCIDENT_ID)
    assert steps and TASK_TOKEN not in json.dumps([s.model_dump(mode="json") for s in steps])
    captured = capsys.readouterr()
    assert TASK_TOKEN not in captured.out + captured.err + caplog.text
    # And the only checkpoint item holding it is the approval's own
    items = aws.dynamodb.Table(aws.checkpoint_table).scan()["Items"]
    holders = [(i["pk"], i["sk"]) for i in items if TASK_TOKEN in json.dumps(i, default=str)]
    assert holders == [(f"APPROVAL#{approval_id}", "META")]


def test_audit_records_the_request_without_links(aws, monkeypatch, lambda_context):
    configure(aws, monkeypatch)
    open_incident(aws)
    approval_id = request_approval(lambda_context)["approval_id"]
    requested = [r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_requested"]
    assert len(requested) == 1
    payload = requested[0].payload
    assert payload["approval_id"] == approval_id and payload["notified"] == APPROVERS
    assert "sig=" not in json.dumps(payload)


def test_one_undeliverable_address_does_not_stop_the_others(aws, monkeypatch, lambda_context):
    # Given an approver list with one address SES refuses
    configure(aws, monkeypatch, approvers=["not an address", "bob@example.com"])
    open_incident(aws)
    # When RequestApproval runs
    output = request_approval(lambda_context)
    # Then the valid approver was notified and the failure is audited
    assert output["notified"] == ["bob@example.com"]
    requested = next(r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_requested")
    assert requested.payload["failed"] == ["not an address"]


def test_policy_for_another_plan_is_refused(aws, monkeypatch, lambda_context):
    # Given a policy decision whose digest is not the plan's
    configure(aws, monkeypatch)
    open_incident(aws)
    # When RequestApproval runs, Then it refuses and stores no approval
    with pytest.raises(ApprovalPlanMismatch):
        request_approval(lambda_context, policy_digest="0" * 64)
    assert stores().checkpoint.pending_approvals() == []


def test_missing_signing_secret_is_a_configuration_error(aws, monkeypatch, lambda_context):
    configure(aws, monkeypatch)
    monkeypatch.setenv("APPROVAL_SIGNING_SECRET_ARN", "")
    open_incident(aws)
    with pytest.raises(ConfigurationError):
        request_approval(lambda_context)
    assert TASK_TOKEN not in _dump_table(aws)


def test_lambda_handler_runs_the_agent(aws, monkeypatch, lambda_context):
    # Given the deployed handler file
    configure(aws, monkeypatch)
    open_incident(aws)
    spec = importlib.util.spec_from_file_location(
        "request_approval_handler", REPO / "functions" / "request_approval" / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # When it is invoked with the state machine's payload
    from tests.unit.test_approval_support import flow_state

    output = module.handler(flow_state(), lambda_context)
    # Then it returns the ApprovalRequested contract
    assert set(output) == {"approval_id", "expires_at", "notified"}
