"""The approval callback: Powertools REST resolver; GET shows the plan and decides nothing, POST decides."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from controlroom.approval.decide import DecisionOutcome, check_can_vote, decide
from controlroom.approval.delivery import redeliver, sweep
from controlroom.approval.pages import SECURITY_HEADERS, decision_page, message_page
from controlroom.approval.secret import signing_key
from controlroom.approval.signing import APPROVAL_ID_PATTERN, verify
from controlroom.autonomy.answers import ANSWERS, record_answer
from controlroom.aws import client
from controlroom.contracts import ApprovalStatus, isoformat, utcnow
from controlroom.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalForbidden,
    ApprovalNotFound,
    ApprovalNotWaiting,
    ApprovalPlanMismatch,
    ControlroomError,
    TransientDependencyError,
)
from controlroom.runtime import logger, metrics, stores
from controlroom.runtime.observability import bind_environment
from controlroom.settings import settings

app = APIGatewayRestResolver()

_MAX_BODY_BYTES = 16_384
_MAX_COMMENT = 1000
_ID = re.compile(APPROVAL_ID_PATTERN)
# Error -> (status, page title, message). Bad input is always 4xx; only our own failures are 5xx.
_REFUSALS: list[tuple[type[Exception], int, str, str]] = [
    (ApprovalNotFound, 404, "Not found", "There is no approval with this id."),
    (
        ApprovalForbidden,
        403,
        "Link not valid",
        "This link is not valid for this approval. Use the link from your email.",
    ),
    (ApprovalExpired, 410, "Expired", "This approval request has expired; the incident was escalated."),
    (
        ApprovalNotWaiting,
        410,
        "No longer waiting",
        "Your decision was recorded, but the execution is no longer waiting for it (it timed out or ended).",
    ),
    (
        ApprovalPlanMismatch,
        409,
        "Plan changed",
        "The plan you saw is not the plan awaiting approval. Nothing was decided.",
    ),
    (ValueError, 400, "Bad request", "The request could not be understood. Nothing was decided."),
    (
        TransientDependencyError,
        503,
        "Try again",
        "A dependency is unavailable; nothing was decided. Try again shortly.",
    ),
]


class BadRequest(ValueError):
    """The request is malformed (400)."""


def _sfn() -> Any:
    return client("stepfunctions")


def _html(status: int, body: str) -> Response:
    return Response(
        status_code=status, content_type="text/html; charset=utf-8", body=body, headers=dict(SECURITY_HEADERS)
    )


_BEING_DELIVERED = (
    "The decision ({verb}) is recorded and is being delivered to the waiting incident flow; "
    "it is retried automatically. Nothing more is needed from you."
)


def _being_delivered(outcome: str | None) -> Response:
    verb = "approved" if outcome == "approve" else "rejected"
    return _html(202, message_page("Decision recorded", _BEING_DELIVERED.format(verb=verb), "ok"))


def _already_decided(approval_id: str, approver: str | None) -> Response:
    current = stores()
    record = current.checkpoint.get_approval(approval_id)
    # Every page load or POST after a failed delivery retries it (the scheduled sweep does too).
    if (
        record.status is ApprovalStatus.DECIDED
        and record.delivery == "pending"
        and redeliver(current.checkpoint, current.audit, _sfn(), approval_id) == "pending"
    ):
        return _being_delivered(record.outcome)
    if record.status is ApprovalStatus.DECIDED and record.votes:
        deciders = [v for v in record.votes if v.verdict == record.outcome] or record.votes[-1:]
        last = deciders[-1] if record.outcome == "approve" else deciders[0]
        verb = "approved" if record.outcome == "approve" else "rejected"
        names = ", ".join(v.approver for v in deciders) if record.outcome == "approve" else last.approver
        message = f"This request was already decided: {verb} by {names} at {isoformat(last.decided_at)}."
    elif approver and any(v.approver.strip().lower() == approver.strip().lower() for v in record.votes):
        message = "You have already voted on this request; it is waiting for other approvers."
    else:
        message = "This request changed while you were deciding. Reload the page from your email link."
    return _html(409, message_page("Already decided", message, "warn"))


def _refusal(exc: Exception, approval_id: str, approver: str | None = None) -> Response:
    metrics.add_metric(name="ApprovalRefusals", unit=MetricUnit.Count, value=1)
    logger.info("approval request refused", error_type=type(exc).__name__, approval_id=approval_id[:40])
    if isinstance(exc, ApprovalAlreadyDecided):
        return _already_decided(approval_id, approver)
    for error_type, status, title, message in _REFUSALS:
        if isinstance(exc, error_type):
            return _html(status, message_page(title, message))
    return _html(
        500, message_page("Something went wrong", "The approval service failed; nothing was decided.")
    )


def _form() -> dict[str, str]:
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("the form body is not valid base64 UTF-8") from exc
    if len(raw) > _MAX_BODY_BYTES:
        raise BadRequest("the form body is too large")
    fields = parse_qs(raw, keep_blank_values=True, max_num_fields=20)
    return {name: values[0] for name, values in fields.items()}


def _claims(approval_id: str, fields: dict[str, str]) -> Any:
    if not _ID.match(approval_id):
        raise ApprovalNotFound("no such approval")
    key = signing_key(settings().APPROVAL_SIGNING_SECRET_ARN)
    return verify(
        key, approval_id, fields.get("approver"), fields.get("expires"), fields.get("sig"), utcnow()
    )


@app.get("/approvals/<approval_id>")
def show_approval(approval_id: str) -> Response:
    """GET: verify the link, show the plan and the form. Never decides (mail scanners prefetch links)."""
    approver: str | None = None
    try:
        bind_environment(settings().ENVIRONMENT)
        query = dict(app.current_event.query_string_parameters or {})
        claims = _claims(approval_id, query)
        approver = claims.approver
        checkpoint = stores().checkpoint
        record = checkpoint.get_approval(approval_id)
        check_can_vote(record, claims.approver, utcnow())
        brief = checkpoint.approval_brief(approval_id)
    except (ControlroomError, ValueError) as exc:
        return _refusal(exc, approval_id, approver)
    metrics.add_metric(name="ApprovalPagesShown", unit=MetricUnit.Count, value=1)
    return _html(200, decision_page(brief, record, claims.approver, claims.expires, query["sig"]))


def _decided_page(outcome: DecisionOutcome) -> Response:
    if outcome.delivery == "pending":
        return _being_delivered(outcome.outcome)
    if not outcome.decided:
        message = f"Your approval is recorded; {outcome.approvals_missing} more approval(s) needed before the plan runs."
        return _html(200, message_page("Vote recorded", message, "ok"))
    if outcome.outcome == "approve":
        return _html(200, message_page("Approved", "Approved: the plan will now run.", "ok"))
    return _html(
        200, message_page("Rejected", "Rejected: the plan will not run and the incident is closed.", "ok")
    )


@app.post("/approvals/<approval_id>")
def submit_decision(approval_id: str) -> Response:
    """POST: re-check the signed fields, the verdict and the plan digest, then decide."""
    approver: str | None = None
    try:
        bind_environment(settings().ENVIRONMENT)
        fields = _form()
        claims = _claims(approval_id, fields)
        approver = claims.approver
        verdict = fields.get("verdict", "")
        comment = fields.get("comment", "")
        human_action = fields.get("human_action", "")
        if verdict not in ("approve", "reject") or len(comment) > _MAX_COMMENT:
            raise BadRequest("verdict must be approve or reject, comment at most 1000 characters")
        if human_action and human_action not in ANSWERS:
            raise BadRequest(f"human_action must be one of {', '.join(ANSWERS)}")
        current = stores()
        outcome = decide(
            current.checkpoint,
            current.audit,
            _sfn(),
            approval_id,
            claims.approver,
            verdict,
            comment,
            fields.get("plan_digest", ""),
        )
        if human_action:
            incident_id = current.checkpoint.get_approval(approval_id).incident_id
            record_answer(current.audit, incident_id, claims.approver, human_action, "approval_page")
    except (ControlroomError, ValueError) as exc:
        return _refusal(exc, approval_id, approver)
    metrics.add_metric(name="ApprovalVotes", unit=MetricUnit.Count, value=1)
    return _decided_page(outcome)


@app.not_found
def not_found(_exc: Exception) -> Response:
    """Any other path or method: a plain 404 page."""
    metrics.add_metric(name="ApprovalRefusals", unit=MetricUnit.Count, value=1)
    return _html(404, message_page("Not found", "There is nothing here."))


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    """Our own failure: logged by type only (the event may hold signed links), a 500 page."""
    logger.error("approval callback failed", error_type=type(exc).__name__)
    metrics.add_metric(name="ApprovalCallbackErrors", unit=MetricUnit.Count, value=1)
    return _html(
        500, message_page("Something went wrong", "The approval service failed; nothing was decided.")
    )


def sweep_outbox() -> dict[str, Any]:
    """The scheduled sweep: deliver every decided approval the flow was not told about yet."""
    bind_environment(settings().ENVIRONMENT)
    current = stores()
    report = sweep(current.checkpoint, current.audit, _sfn())
    metrics.add_metric(name="ApprovalDeliveriesRetried", unit=MetricUnit.Count, value=len(report.sent))
    metrics.add_metric(
        name="ApprovalDeliveriesPending", unit=MetricUnit.Count, value=len(report.still_pending)
    )
    logger.info(
        "approval outbox swept",
        sent=len(report.sent),
        not_waiting=len(report.not_waiting),
        still_pending=len(report.still_pending),
    )
    return {"sent": report.sent, "not_waiting": report.not_waiting, "still_pending": report.still_pending}
