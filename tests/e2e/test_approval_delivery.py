"""Approval delivery on the local engine: Step Functions unreachable when the approver clicks, then the sweep."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import EndpointConnectionError

from controlroom.approval import app as approval_app
from controlroom.contracts import ApprovalStatus
from controlroom.local.world import DEMO_ALIAS, DEMO_FUNCTION, GOOD_VERSION

from .conftest import alarm_event, finished, fire_one

pytestmark = pytest.mark.e2e

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_MESSAGE = re.compile(r'<p id="status-message"[^>]*>(.*?)</p>')


class UnreachableStates:
    """What the callback's Step Functions client does while the endpoint cannot be reached."""

    def send_task_success(self, **kwargs):
        raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")

    send_task_failure = send_task_success


def _open(request: urllib.request.Request | str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_decision_that_cannot_be_delivered_is_recorded_then_delivered_by_the_sweep(
    engine, client, monkeypatch
):
    # Given an execution waiting for approval, and alice's emailed link
    execution_arn = fire_one(client, alarm_event())
    approval = client.wait_for_approval(client.incident_id(execution_arn), execution_arn, timeout=60)
    (link,) = client.wait_for_links(approval.approval_id)
    link = link.replace(link[: link.index("/approvals/")], client.gateway_url.rstrip("/"))
    status, page = _open(link)
    assert status == 200
    fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}
    # When Step Functions cannot be reached at the moment she approves
    monkeypatch.setattr(approval_app, "_sfn", UnreachableStates)
    form = urllib.parse.urlencode({**fields, "verdict": "approve"}).encode()
    status, page = _open(urllib.request.Request(link.split("?")[0], data=form, method="POST"))
    # Then the page says 202: recorded and being delivered; the execution still waits, nothing changed
    message = html.unescape(_MESSAGE.search(page).group(1))
    assert status == 202 and "recorded and is being delivered" in message, page
    record = client.checkpoint.get_approval(approval.approval_id)
    assert record.status is ApprovalStatus.DECIDED and record.delivery == "pending"
    assert client.describe(execution_arn).status == "RUNNING"
    # When Step Functions is back and the scheduled sweep runs
    monkeypatch.undo()
    engine.sweep_approvals()  # (the engine's own once-a-minute sweep may have got there first)
    # Then the flow resumed with the approval and resolved the incident
    view = finished(client, execution_arn)
    assert (view.status, view.terminal_state) == ("SUCCEEDED", "Resolved")
    alias = client.aws("lambda").get_alias(FunctionName=DEMO_FUNCTION, Name=DEMO_ALIAS)
    assert alias["FunctionVersion"] == GOOD_VERSION
    assert client.checkpoint.get_approval(approval.approval_id).delivery == "sent"
    deliveries = [r for r in client.audit.records(record.incident_id) if r.kind == "approval_delivery"]
    assert [r.payload["delivery"] for r in deliveries] == ["sent"]
