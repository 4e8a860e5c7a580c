"""The approval callback: Powertools REST resolver; GET shows the plan and decides nothing, POST decides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from controlroom.approval.decide import check_can_vote, decide
from controlroom.approval.delivery import redeliver, sweep
from controlroom.approval.form import MAX_COMMENT, BadRequest, form_fields
from controlroom.approval.pages import SECURITY_HEADERS, decision_page, message_page, state_page
from controlroom.approval.secret import signing_key
from controlroom.approval.signing import (
    APPROVAL_ID_PATTERN,
    VIEW_TTL_SECONDS,
    result_location,
    verify,
    verify_view,
)
from controlroom.approval.states import (
    FAILED,
    REFUSALS,
    StateView,
    already_view,
    decided_view,
    expired_view,
    refusal_view,
    undecided_view,
    vote_recorded_view,
)
from controlroom.autonomy.answers import ANSWERS, record_answer
from controlroom.aws import client
from controlroom.contracts import ApprovalRecord, ApprovalStatus, utcnow
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalNotFound,
    ApprovalNotWaiting,
    ControlroomError,
)
from controlroom.runtime import logger, metrics, stores
from controlroom.runtime.observability import bind_environment
from controlroom.settings import settings
from controlroom.store.approvals import voter_key

app = APIGatewayRestResolver()

_ID = re.compile(APPROVAL_ID_PATTERN)


@dataclass
class _Seen:
    """What one request established so far, so a refusal can say as much as is known (and no more)."""

    approval_id: str
    approver: str | None = None
    verified: bool = False
    record: ApprovalRecord | None = None
    brief: ApprovalBrief | None = None


def _sfn() -> Any:
    return client("stepfunctions")


def _html(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=body,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def _view(view: StateView, seen: _Seen) -> Response:
    return _html(view.status, state_page(view, seen.brief, seen.approval_id if seen.verified else None))


def _load(seen: _Seen) -> None:
    """Read the record and brief of a verified link (an unverified one learns nothing about the approval)."""
    checkpoint = stores().checkpoint
    seen.record = checkpoint.get_approval(seen.approval_id)
    try:
        seen.brief = checkpoint.approval_brief(seen.approval_id)
    except ApprovalNotFound:
        seen.brief = None


def _decided(seen: _Seen, record: ApprovalRecord) -> StateView:
    # Every page load after a failed delivery retries it (the scheduled sweep does too).
    if record.delivery == "pending":
        current = stores()
        redeliver(current.checkpoint, current.audit, _sfn(), record.approval_id)
        record = current.checkpoint.get_approval(record.approval_id)
        seen.record = record
    return decided_view(record, seen.brief, seen.approver)


def _refusal(exc: Exception, seen: _Seen) -> Response:
    metrics.add_metric(name="ApprovalRefusals", unit=MetricUnit.Count, value=1)
    logger.info("approval request refused", error_type=type(exc).__name__, approval_id=seen.approval_id[:40])
    # Expired and already-decided are raised only after the link's signature matched.
    if isinstance(exc, (ApprovalAlreadyDecided, ApprovalExpired, ApprovalNotWaiting)):
        seen.verified = True
        try:
            _load(seen)
        except ApprovalNotFound as missing:
            return _refusal(missing, seen)
        assert seen.record is not None
        if isinstance(exc, ApprovalExpired):
            return _view(expired_view(seen.record, seen.brief, utcnow()), seen)
        if seen.record.status is ApprovalStatus.DECIDED and seen.record.delivery == "pending":
            delivering = _decided(seen, seen.record)
            if delivering.status == 202:
                return _view(delivering, seen)
        if isinstance(exc, ApprovalNotWaiting):
            return _view(decided_view(seen.record, seen.brief, seen.approver), seen)
        return _view(already_view(seen.record, seen.brief, seen.approver), seen)
    for error_type, status, title, message, next_step in REFUSALS:
        if isinstance(exc, error_type):
            if not isinstance(exc, ApprovalNotFound):
                _try_load(seen)
            return _view(refusal_view(status, title, message, next_step, seen.record), seen)
    return _failed(exc, seen)


def _try_load(seen: _Seen) -> None:
    # Only to name the incident on a refusal page: whatever fails here, the refusal stands as it is.
    if seen.verified and seen.record is None:
        try:
            _load(seen)
        except Exception as exc:
            logger.info("approval not readable for the refusal page", error_type=type(exc).__name__)


def _failed(exc: Exception, seen: _Seen) -> Response:
    logger.error("approval callback failed", error_type=type(exc).__name__)
    metrics.add_metric(name="ApprovalCallbackErrors", unit=MetricUnit.Count, value=1)
    _try_load(seen)
    return _view(refusal_view(500, *FAILED, seen.record), seen)


def _key() -> bytes:
    return signing_key(settings().APPROVAL_SIGNING_SECRET_ARN)


def _claims(approval_id: str, fields: dict[str, str]) -> Any:
    if not _ID.match(approval_id):
        raise ApprovalNotFound("no such approval")
    return verify(
        _key(), approval_id, fields.get("approver"), fields.get("expires"), fields.get("sig"), utcnow()
    )


@app.get("/approvals/<approval_id>")
def show_approval(approval_id: str) -> Response:
    """GET: verify the link, show the summary and the form. Never decides (mail scanners prefetch links)."""
    seen = _Seen(approval_id)
    try:
        bind_environment(settings().ENVIRONMENT)
        query = dict(app.current_event.query_string_parameters or {})
        claims = _claims(approval_id, query)
        seen.approver, seen.verified = claims.approver, True
        _load(seen)
        assert seen.record is not None
        check_can_vote(seen.record, claims.approver, utcnow())
        if seen.brief is None:
            raise ApprovalNotFound(f"approval {approval_id} has no brief")
        page = decision_page(seen.brief, seen.record, claims.approver, claims.expires, query["sig"])
    except (ControlroomError, ValueError) as exc:
        return _refusal(exc, seen)
    except Exception as exc:
        return _failed(exc, seen)
    metrics.add_metric(name="ApprovalPagesShown", unit=MetricUnit.Count, value=1)
    return _html(200, page)


@app.get("/approvals/<approval_id>/result")
def show_result(approval_id: str) -> Response:
    """GET after the POST's 303: the approval's state as stored. Decides nothing; carries no voting link."""
    seen = _Seen(approval_id)
    try:
        bind_environment(settings().ENVIRONMENT)
        query = dict(app.current_event.query_string_parameters or {})
        if not _ID.match(approval_id):
            raise ApprovalNotFound("no such approval")
        claims = verify_view(
            _key(), approval_id, query.get("approver"), query.get("expires"), query.get("view"), utcnow()
        )
        seen.approver, seen.verified = claims.approver, True
        _load(seen)
        record = seen.record
        assert record is not None
        if record.status is ApprovalStatus.DECIDED:
            view = _decided(seen, record)
        elif record.status is ApprovalStatus.EXPIRED or utcnow() >= record.expires_at:
            view = expired_view(record, seen.brief, utcnow())
        elif any(voter_key(v.approver) == voter_key(claims.approver) for v in record.votes):
            view = vote_recorded_view(record, seen.brief, claims.approver)
        else:
            view = undecided_view(record)
    except (ControlroomError, ValueError) as exc:
        return _refusal(exc, seen)
    except Exception as exc:
        return _failed(exc, seen)
    return _view(view, seen)


def _see_other(approval_id: str, approver: str) -> Response:
    """Post/redirect/get: the browser's history holds a read-only result URL, so a refresh resubmits nothing."""
    location = result_location(_key(), approval_id, approver, int(utcnow().timestamp()) + VIEW_TTL_SECONDS)
    body = message_page("Decision recorded", "Your decision is recorded.", "ok")
    return _html(303, body, {"Location": location})


@app.post("/approvals/<approval_id>")
def submit_decision(approval_id: str) -> Response:
    """POST: re-check the signed fields, the verdict and the plan digest, decide, then 303 to the result."""
    seen = _Seen(approval_id)
    try:
        bind_environment(settings().ENVIRONMENT)
        fields = form_fields(app.current_event.body, bool(app.current_event.is_base64_encoded))
        claims = _claims(approval_id, fields)
        seen.approver, seen.verified = claims.approver, True
        verdict = fields.get("verdict", "")
        comment = fields.get("comment", "")
        human_action = fields.get("human_action", "")
        if verdict not in ("approve", "reject") or len(comment) > MAX_COMMENT:
            raise BadRequest("verdict must be approve or reject, comment at most 1000 characters")
        if human_action and human_action not in ANSWERS:
            raise BadRequest(f"human_action must be one of {', '.join(ANSWERS)}")
        current = stores()
        try:
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
        except ApprovalNotWaiting:
            # The vote is recorded; the result page says the flow was no longer waiting.
            metrics.add_metric(name="ApprovalVotes", unit=MetricUnit.Count, value=1)
            return _see_other(approval_id, claims.approver)
        if human_action:
            record_answer(current.audit, outcome.incident_id, claims.approver, human_action, "approval_page")
    except (ControlroomError, ValueError) as exc:
        return _refusal(exc, seen)
    except Exception as exc:
        return _failed(exc, seen)
    metrics.add_metric(name="ApprovalVotes", unit=MetricUnit.Count, value=1)
    return _see_other(approval_id, claims.approver)


@app.not_found
def not_found(_exc: Exception) -> Response:
    """Any other path or method: a plain 404 page."""
    metrics.add_metric(name="ApprovalRefusals", unit=MetricUnit.Count, value=1)
    return _html(
        404,
        message_page(
            "Not found", "There is nothing here.", next_step="Use the link from your approval email."
        ),
    )


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    """Our own failure: logged by type only (the event may hold signed links), a 500 page."""
    logger.error("approval callback failed", error_type=type(exc).__name__)
    metrics.add_metric(name="ApprovalCallbackErrors", unit=MetricUnit.Count, value=1)
    return _html(500, message_page(*FAILED))


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
