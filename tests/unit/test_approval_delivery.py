"""Approval delivery: a recorded decision whose SendTask* call failed is delivered later, exactly once."""

from __future__ import annotations

import html
import re
import threading

import pytest
from botocore.exceptions import EndpointConnectionError

from controlroom.approval.decide import decide
from controlroom.approval.delivery import redeliver, sweep
from controlroom.approval.sweep_event import sweep_event
from controlroom.contracts import ApprovalStatus
from controlroom.runtime import stores
from tests.unit.test_approval_app import _site
from tests.unit.test_approval_support import INCIDENT_ID, RecordingSfn, atomic_moto_writes, put_pending

DIGEST = "p" * 64


class UnreachableSfn(RecordingSfn):
    """Step Functions that cannot be reached (the network or the endpoint fails), until it recovers."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def _call(self, name, kwargs):
        with self._lock:
            self.calls.append((name, kwargs))
        if self.down:
            raise EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")
        return {}


def _message(response: dict) -> str:
    match = re.search(r'<p id="status-message"[^>]*>(.*?)</p>', response["body"])
    assert match, response["body"]
    return html.unescape(match.group(1))


def _decide(sfn, approval_id, approver="alice@example.com", verdict="approve"):
    current = stores()
    return decide(current.checkpoint, current.audit, sfn, approval_id, approver, verdict, "", DIGEST)


@pytest.mark.parametrize("failure", ["unreachable", "throttled"])
def test_a_failed_delivery_keeps_the_decision_in_the_outbox(aws, failure):
    # Given a pending approval and Step Functions failing (unreachable, or throttling past retries)
    approval_id = put_pending()
    sfn = UnreachableSfn() if failure == "unreachable" else RecordingSfn(error_code="ThrottlingException")
    # When alice approves
    outcome = _decide(sfn, approval_id)
    # Then the decision is recorded, marked as not delivered yet, and waits in the outbox
    assert outcome.decided and outcome.delivery == "pending"
    record = stores().checkpoint.get_approval(approval_id)
    assert record.status is ApprovalStatus.DECIDED and record.delivery == "pending"
    assert [r.approval_id for r in stores().checkpoint.undelivered_approvals()] == [approval_id]
    decision = next(r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_decision")
    assert decision.payload["delivery"] == "pending"


def test_the_sweep_delivers_once_then_the_outbox_is_empty(aws):
    # Given a decision that could not be delivered
    approval_id = put_pending()
    sfn = UnreachableSfn()
    _decide(sfn, approval_id, verdict="reject")
    # When the sweep runs while Step Functions is still down, Then it stays pending
    assert sweep(stores().checkpoint, stores().audit, sfn).still_pending == [approval_id]
    # When it recovers and the sweep runs twice
    sfn.down = False
    first = sweep(stores().checkpoint, stores().audit, sfn)
    second = sweep(stores().checkpoint, stores().audit, sfn)
    # Then the rejection reached the flow once, and nothing is left to deliver
    assert first.sent == [approval_id] and second.sent == second.still_pending == []
    delivered = [kwargs for name, kwargs in sfn.calls if name == "send_task_failure"]
    assert len(delivered) == 3 and delivered[-1]["error"] == "ApprovalRejected"
    assert stores().checkpoint.get_approval(approval_id).delivery == "sent"
    assert stores().checkpoint.undelivered_approvals() == []
    audit = [r for r in stores().audit.records(INCIDENT_ID) if r.kind == "approval_delivery"]
    assert [r.payload["delivery"] for r in audit] == ["sent"]


def test_a_retry_after_the_flow_stopped_waiting_leaves_the_outbox(aws):
    approval_id = put_pending()
    _decide(UnreachableSfn(), approval_id)
    report = sweep(stores().checkpoint, stores().audit, RecordingSfn(error_code="TaskTimedOut"))
    assert report.not_waiting == [approval_id]
    assert stores().checkpoint.get_approval(approval_id).delivery == "not_waiting"
    assert stores().checkpoint.undelivered_approvals() == []


def test_racing_retries_tell_the_flow_once(aws, monkeypatch):
    # Given an undelivered decision and Step Functions back up
    atomic_moto_writes(monkeypatch)
    approval_id = put_pending()
    _decide(UnreachableSfn(), approval_id)
    sfn = RecordingSfn()
    # When the sweeper and two page loads retry at the same moment
    barrier = threading.Barrier(3)
    results: list[str] = []

    def retry() -> None:
        barrier.wait()
        results.append(redeliver(stores().checkpoint, stores().audit, sfn, approval_id))

    threads = [threading.Thread(target=retry) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then SendTaskSuccess was called exactly once (the delivery lease), and it is recorded as sent
    assert len(sfn.calls) == 1 and "sent" in results
    assert stores().checkpoint.get_approval(approval_id).delivery == "sent"


def test_the_page_says_recorded_and_being_delivered_then_delivers_on_the_next_load(
    aws, monkeypatch, lambda_context
):
    # Given the approval page and Step Functions unreachable
    sfn = UnreachableSfn()
    site = _site(aws, monkeypatch, lambda_context, sfn=sfn)
    fields = site.form_of("alice@example.com")
    # When alice approves
    response = site.submit({**fields, "verdict": "approve"})
    # Then the result page says 202: recorded and being delivered (never a 500 "nothing was decided")
    assert response["statusCode"] == 202, response["body"]
    message = _message(response)
    assert (
        "recorded" in message
        and "being delivered" in message
        and "nothing was decided" not in message.lower()
    )
    # When she reloads while it is still down, Then the same 202 (and a retry was made)
    calls_before = len(sfn.calls)
    assert site.get("alice@example.com")["statusCode"] == 202 and len(sfn.calls) == calls_before + 1
    # When Step Functions recovers and bob opens his link
    sfn.down = False
    page = site.get("bob@example.com")
    # Then that page load delivered the decision, and the page says it was decided
    assert page["statusCode"] == 409 and "approved by alice@example.com" in _message(page)
    assert stores().checkpoint.get_approval(site.approval_id).delivery == "sent"
    assert [name for name, _ in sfn.calls][-1] == "send_task_success"


def test_the_callback_function_runs_the_scheduled_sweep(aws, monkeypatch, lambda_context):
    # Given a decision left undelivered through the page
    sfn = UnreachableSfn()
    site = _site(aws, monkeypatch, lambda_context, sfn=sfn)
    site.post({**site.form_of("alice@example.com"), "verdict": "approve"})
    sfn.down = False
    # When the schedule invokes the callback function with its constant input
    result = site.handler(sweep_event(), lambda_context)
    # Then the decision was delivered
    assert result["sent"] == [site.approval_id]
    assert stores().checkpoint.get_approval(site.approval_id).delivery == "sent"


def test_a_failure_after_the_call_still_reports_the_decision_as_recorded(aws, monkeypatch):
    # Given Step Functions answers, but marking the delivery done fails (a DynamoDB blip)
    approval_id = put_pending()
    sfn = RecordingSfn()

    def blip(*args, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(type(stores().checkpoint), "finish_delivery", blip)
    # When alice approves, Then she is told it is recorded and being delivered, never an error
    outcome = _decide(sfn, approval_id)
    assert outcome.decided and outcome.delivery == "pending"
    assert stores().checkpoint.get_approval(approval_id).status is ApprovalStatus.DECIDED
