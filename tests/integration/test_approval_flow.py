"""A real waitForTaskToken state on moto's interpreter: email link -> page -> POST -> the flow resumes or fails."""

from __future__ import annotations

import html
import importlib.util
import io
import json
import re
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from controlroom.approval.inbox import sent_approval_emails
from controlroom.contracts import ApprovalOutcome, ApprovalStatus
from controlroom.local.gateway import LocalGateway
from controlroom.runtime import stores
from tests.conftest import FakeLambdaContext
from tests.unit.test_approval_support import TASK_TOKEN, configure, flow_state, open_incident

REPO = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 30
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def _handler(folder: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"{folder}_handler", REPO / "functions" / folder / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _asl(request_arn: str, sink_arn: str, timeout_seconds: int) -> str:
    payload = {
        f"{part}.$": f"$.{part}" for part in ("intake", "evidence", "diagnosis", "plan", "policy", "control")
    }
    return json.dumps(
        {
            "StartAt": "RequestApproval",
            "States": {
                "RequestApproval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": request_arn,
                        "Payload": {"task_token.$": "$$.Task.Token", **payload},
                    },
                    "TimeoutSeconds": timeout_seconds,
                    "ResultPath": "$.approval",
                    "Catch": [
                        {
                            "ErrorEquals": ["ApprovalRejected", "States.Timeout"],
                            "ResultPath": "$.error",
                            "Next": "Stopped",
                        }
                    ],
                    "Next": "Execute",
                },
                "Execute": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": sink_arn, "Payload": {"approval.$": "$.approval"}},
                    "End": True,
                },
                "Stopped": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": sink_arn, "Payload": {"error.$": "$.error"}},
                    "End": True,
                },
            },
        }
    )


class Flow:
    """The tiny state machine, our handlers in-process behind moto's Lambda, and the approval gateway."""

    def __init__(self, aws: Any, monkeypatch: Any, timeout_seconds: int = 120) -> None:
        from moto.awslambda.models import LambdaFunction

        self.requested, self.finished = threading.Event(), threading.Event()
        self.sink_events: list[dict[str, Any]] = []
        request_handler = _handler("request_approval")

        def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
            payload = json.loads(event) if isinstance(event, str) else event
            if function.function_name == "request-approval":
                try:
                    return json.dumps(request_handler(payload, FakeLambdaContext())), False, ""
                finally:
                    self.requested.set()
            self.sink_events.append(payload)
            self.finished.set()
            return "{}", False, ""

        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
        self.gateway = LocalGateway(_handler("approval_callback"))
        base_url = self.gateway.start()
        configure(aws, monkeypatch)
        monkeypatch.setenv("APPROVAL_BASE_URL", base_url)
        open_incident(aws)
        arns = {name: self._function(aws, name) for name in ("request-approval", "sink")}
        sfn = aws.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="approval-test",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=_asl(arns["request-approval"], arns["sink"], timeout_seconds),
        )["stateMachineArn"]
        state = flow_state()
        del state["task_token"]
        sfn.start_execution(stateMachineArn=machine, name="approval-run", input=json.dumps(state))
        assert self.requested.wait(WAIT_SECONDS), "RequestApproval never ran"

    @staticmethod
    def _function(aws: Any, name: str) -> str:
        role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def handler(event, context):\n    return event\n")
        return aws.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]

    def link(self, approver: str) -> str:
        emails = [e for e in sent_approval_emails() if approver in e.to]
        assert len(emails) == 1
        return emails[0].links[0]

    def decide(self, approver: str, verdict: str) -> tuple[int, str]:
        """Open the emailed link as a browser would, then submit the page's form with ``verdict``."""
        link = self.link(approver)
        status, page = _fetch(urllib.request.Request(link))
        if status != 200:
            return status, page
        fields = {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}
        parts = urlsplit(link)
        return _fetch(
            urllib.request.Request(
                f"{parts.scheme}://{parts.netloc}{parts.path}",
                method="POST",
                data=urlencode({**fields, "verdict": verdict}).encode(),
            )
        )


def _fetch(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


@pytest.fixture
def sfn_executes(monkeypatch):
    from moto.core.config import default_user_config

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})


def test_approve_by_link_resumes_the_flow_with_the_outcome(aws, monkeypatch, sfn_executes):
    # Given an execution waiting in RequestApproval, and alice's emailed link
    flow = Flow(aws, monkeypatch)
    try:
        approval_id = stores().checkpoint.pending_approvals()[0].approval_id
        # When alice opens the page and approves
        status, body = flow.decide("alice@example.com", "approve")
        # Then the page says so, and the flow resumed with the ApprovalOutcome under $.approval
        assert status == 200 and "Approved" in body and TASK_TOKEN not in body
        assert flow.finished.wait(WAIT_SECONDS), "the execution did not resume"
        outcome = ApprovalOutcome.model_validate(flow.sink_events[0]["approval"])
        record = stores().checkpoint.get_approval(approval_id)
        assert outcome.approval_id == approval_id and outcome.plan_digest == record.plan_digest
        assert outcome.approvers == ["alice@example.com"] and record.status is ApprovalStatus.DECIDED
        # And bob, arriving late, is told it is already decided
        assert flow.decide("bob@example.com", "reject")[0] == 409
    finally:
        flow.gateway.stop()


def test_reject_by_link_fails_the_task_with_approval_rejected(aws, monkeypatch, sfn_executes):
    flow = Flow(aws, monkeypatch)
    try:
        status, _ = flow.decide("bob@example.com", "reject")
        assert status == 200
        assert flow.finished.wait(WAIT_SECONDS), "the execution did not leave RequestApproval"
        assert flow.sink_events[0]["error"]["Error"] == "ApprovalRejected"
    finally:
        flow.gateway.stop()


def test_decision_after_the_state_timed_out_is_410(aws, monkeypatch, sfn_executes):
    # Given the state's timeout passed (1 s, substituted short) and the flow moved on
    flow = Flow(aws, monkeypatch, timeout_seconds=1)
    try:
        assert flow.finished.wait(WAIT_SECONDS), "the state did not time out"
        assert flow.sink_events[0]["error"]["Error"] == "States.Timeout"
        # When alice approves her still-valid link, Then she learns the execution no longer waits
        status, body = flow.decide("alice@example.com", "approve")
        assert status == 410 and "no longer waiting" in body
    finally:
        flow.gateway.stop()
