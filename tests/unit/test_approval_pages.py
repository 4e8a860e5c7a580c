"""Rendering of the approval page, result pages and email: summary first, escaped, honest about state."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from controlroom.approval.brief import build_brief
from controlroom.approval.email import render_email, subject_of
from controlroom.approval.pages import decision_page, state_page
from controlroom.approval.states import decided_view, expired_view, vote_recorded_view
from controlroom.approval.style import PAGE_CSS
from controlroom.approval.wording import POLICY_WORDS, time_left
from controlroom.contracts import ApprovalRecord, ApprovalStatus, ApprovalVote, LogSample, MetricSeries
from controlroom.contracts.flow import RequestApprovalInput
from controlroom.deploy.approval import build_deployment_brief
from tests.unit.test_approval_support import flow_state
from tests.unit.test_deploy_approval_brief import _approval_input
from tests.unit.test_deploy_policy import NOW

REPO = Path(__file__).resolve().parents[2]
APPROVAL_ID = "apr-" + "1" * 32
PAYLOAD = '<script>alert("x")</script>'
LINK = f"https://approvals.example.test/prod/approvals/{APPROVAL_ID}?approver=alice%40example.com&expires=1&sig=s"


def _brief(environment: str = "prod", diagnosis: str = "version 2 broke checkout"):
    state = flow_state()
    state["intake"]["incident"]["environment"] = environment
    state["diagnosis"]["hypotheses"][0]["summary"] = diagnosis
    state["evidence"]["metrics"] = [
        MetricSeries(
            ref="metric:m1", label="Errors", timestamps=[NOW, NOW, NOW], values=[0.0, 12.0, 57.0]
        ).model_dump(mode="json")
    ]
    state["evidence"]["logs"] = [
        LogSample(
            ref="log:1", log_group="/aws/lambda/checkout", timestamp=NOW, message=f"KeyError {PAYLOAD}"
        ).model_dump(mode="json")
    ]
    return build_brief(RequestApprovalInput.model_validate(state), APPROVAL_ID, NOW + timedelta(minutes=41))


def _record(brief, votes=(), status=ApprovalStatus.PENDING, outcome=None, delivery=None, required=2):
    return ApprovalRecord(
        approval_id=APPROVAL_ID,
        incident_id=brief.incident_id,
        plan_digest=brief.plan_digest,
        approvers=["alice@example.com", "bob@example.com", "carol@example.com"],
        required_approvals=required,
        status=status,
        created_at=NOW,
        expires_at=brief.expires_at,
        votes=list(votes),
        outcome=outcome,
        delivery=delivery,
    )


def _vote(approver: str, verdict: str = "approve", comment: str = "") -> ApprovalVote:
    return ApprovalVote(
        approver=approver,
        verdict=verdict,
        comment=comment,
        decided_at=NOW + timedelta(minutes=2),
        plan_digest="p",
    )


def _by_id(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|h1|p|div|details)>', page, re.S)
    assert match, f"no #{element_id}"
    return re.sub(r"<[^>]+>", "", match.group(1))


def test_the_summary_card_comes_first_with_everything_needed_to_decide() -> None:
    # Given a prod incident needing 2 of 3 approvals, bob has approved, alice opens her link
    brief = _brief()
    record = _record(brief, votes=[_vote("bob@example.com")])
    page = decision_page(brief, record, "alice@example.com", 1, "sig", now=NOW + timedelta(minutes=10))
    # Then the banner says PRODUCTION (the prod style), the action is one sentence with target and from -> to
    assert _by_id(page, "environment-banner") == "PRODUCTION" and 'class="banner prod"' in page
    assert _by_id(page, "action") == "Roll back checkout alias live from v2 to v1"
    assert _by_id(page, "risk-level") == "medium"
    assert _by_id(page, "time-left") == f"in 31 min, at {brief.expires_at:%H:%M} UTC"
    assert _by_id(page, "votes") == "1 of 2 approvals so far"
    assert _by_id(page, "other-approvers") == "carol@example.com may also approve"
    # And the buttons come right after the card, before every detail section
    order = [page.index(marker) for marker in ('id="summary"', 'id="approve"', 'id="reject"', "<details")]
    assert order == sorted(order)
    for section in ("diagnosis", "evidence", "policy", "plan"):
        assert f'<details id="{section}"' in page
    # And metric values, log lines and the policy's reasons in words are in the details
    assert "Errors: latest 57, peak 57 over 3 datapoints" in page
    assert "medium risk needs a human" in page and "needs a human&#x27;s approval" in page


def test_a_non_production_banner_is_not_the_production_one() -> None:
    page = decision_page(
        _brief("staging"), _record(_brief("staging")), "alice@example.com", 1, "sig", now=NOW
    )
    assert _by_id(page, "environment-banner") == "STAGING" and "banner prod" not in page


def test_model_text_and_log_lines_are_escaped_on_the_page_and_in_the_email() -> None:
    # Given a diagnosis (model text) and a log line carrying a script
    brief = _brief(diagnosis=PAYLOAD)
    page = decision_page(brief, _record(brief), "alice@example.com", 1, "sig", now=NOW)
    email = render_email(brief, LINK, _record(brief), "alice@example.com")
    # Then it is text everywhere, never a tag
    for html in (page, email.html):
        assert "<script" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_nothing_is_wider_than_a_phone_by_construction() -> None:
    # Long ARNs, JSON and log lines wrap instead of widening the page
    assert "overflow-wrap:anywhere" in PAGE_CSS and "white-space:pre-wrap" in PAGE_CSS
    page = decision_page(_brief(), _record(_brief()), "alice@example.com", 1, "sig", now=NOW)
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in page
    assert "<table" not in page


def test_the_email_has_a_subject_a_viewport_inline_css_a_button_and_a_text_part() -> None:
    brief = _brief()
    email = render_email(brief, LINK, _record(brief), "alice@example.com")
    # The subject names the environment, the action, the target and the deadline
    assert (
        email.subject
        == f"[PROD] Approve: roll back checkout live v2 -> v1 (expires {brief.expires_at:%H:%M} UTC)"
    )
    # The HTML has a viewport, only inline styles, and one prominent button carrying the link
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in email.html
    assert "<style" not in email.html
    button = re.search(r'<a id="approval-link" href="([^"]+)" style="([^"]+)"', email.html)
    assert button and button.group(1) == LINK.replace("&", "&amp;")
    assert "background:#1a7f37" in button.group(2) and "padding:14px 28px" in button.group(2)
    assert email.html.count("href=") == 1
    # The same summary as the page heads it: banner, action, risk, deadline, votes, who else may approve
    for fact in (
        "PRODUCTION",
        "Roll back checkout alias live from v2 to v1",
        "medium",
        "0 of 2 approvals so far",
    ):
        assert fact in email.html and fact in email.text
    assert "bob@example.com and carol@example.com may also approve" in email.html
    # And the plain-text part stays, with the link on its own line
    assert LINK in email.text.splitlines() and "<" not in email.text.replace(PAYLOAD, "")


def test_the_subject_has_no_control_characters_and_names_a_deployment() -> None:
    brief = _brief("dev").model_copy(update={"actions": []})
    assert "\n" not in subject_of(brief.model_copy(update={"incident_id": "inc-1\r\nBcc: x"}))
    deployment = build_deployment_brief(_approval_input(), APPROVAL_ID, NOW + timedelta(hours=1))
    assert subject_of(deployment) == "[DEV] Approve: deploy orders-api live v1 -> v2 (expires 11:00 UTC)"


def test_the_deployment_page_and_email_speak_of_the_deployment_never_an_incident() -> None:
    brief = build_deployment_brief(_approval_input(), APPROVAL_ID, NOW + timedelta(hours=1))
    record = _record(brief)
    page = decision_page(brief, record, "alice@example.com", 1, "sig", now=NOW)
    assert _by_id(page, "action") == "Deploy orders-api alias live from v1 to v2 as a canary"
    assert "start the canary" in page and '<details id="deployment" open>' in page
    approved = state_page(
        decided_view(
            _record(brief, [_vote("alice@example.com")], ApprovalStatus.DECIDED, "approve", "sent"), brief
        ),
        brief,
    )
    rejected = state_page(
        decided_view(
            _record(brief, [_vote("bob@example.com", "reject")], ApprovalStatus.DECIDED, "reject", "sent"),
            brief,
        ),
        brief,
    )
    assert "promotes it" in approved and "Nothing is deployed" in rejected and "stays on v1" in rejected
    email = render_email(brief, LINK, record, "alice@example.com")
    for text in (page, rejected, email.html, email.text):
        assert "incident" not in text.lower()
    # (only a failed canary opens one, and the approved page says so)
    assert approved.lower().count("incident") == 1 and "opens an incident" in approved


def test_decided_pages_say_what_by_whom_the_comment_and_what_happens_next() -> None:
    brief = _brief()
    approved = _record(
        brief,
        [_vote("bob@example.com", comment="go"), _vote("alice@example.com")],
        ApprovalStatus.DECIDED,
        "approve",
        "sent",
    )
    page = state_page(decided_view(approved, brief, "alice@example.com"), brief, APPROVAL_ID)
    assert _by_id(page, "status-message") == "Approved by bob@example.com and alice@example.com."
    assert "\u201cgo\u201d" in page and "Execute runs: Roll back checkout alias live from v2 to v1" in page
    assert brief.incident_id in _by_id(page, "reference")
    rejected = _record(
        brief, [_vote("bob@example.com", "reject", "not now")], ApprovalStatus.DECIDED, "reject", "sent"
    )
    page = state_page(decided_view(rejected, brief), brief)
    assert _by_id(page, "status-message") == "Rejected by bob@example.com."
    assert "\u201cnot now\u201d" in page and "Nothing is executed" in _by_id(page, "next-step")
    waiting = vote_recorded_view(_record(brief, [_vote("alice@example.com")]), brief, "alice@example.com")
    assert (
        "1 more approval" in waiting.message and "bob@example.com and carol@example.com" in waiting.next_step
    )


@pytest.mark.parametrize(
    ("status", "now_after_expiry", "expected"),
    [
        (ApprovalStatus.EXPIRED, True, "was escalated to on-call"),
        (ApprovalStatus.PENDING, True, "is still pending"),
        (ApprovalStatus.PENDING, False, "remains open until"),
    ],
)
def test_the_expired_page_tells_the_approvals_real_state(status, now_after_expiry, expected) -> None:
    brief = _brief()
    now = brief.expires_at + timedelta(seconds=5 if now_after_expiry else -60)
    view = expired_view(_record(brief, status=status), brief, now)
    assert view.status == 410 and expected in view.message
    others = {"was escalated to on-call", "is still pending", "remains open until"} - {expected}
    assert not any(other in view.message for other in others)


def test_an_expired_link_to_a_decided_approval_says_it_was_decided() -> None:
    brief = _brief()
    record = _record(brief, [_vote("bob@example.com", "reject")], ApprovalStatus.DECIDED, "reject", "sent")
    view = expired_view(record, brief, brief.expires_at + timedelta(hours=1))
    assert view.status == 409 and "already decided: rejected by bob@example.com" in view.message


def test_every_cedar_policy_id_is_said_in_words() -> None:
    ids = {
        match
        for path in (REPO / "layers" / "controlroom" / "policy").glob("*.cedar")
        for match in re.findall(r'@id\("([^"]+)"\)', path.read_text())
    }
    assert ids and ids <= set(POLICY_WORDS), sorted(ids - set(POLICY_WORDS))


def test_time_left() -> None:
    deadline = NOW + timedelta(hours=2, minutes=5)
    assert time_left(deadline, NOW) == "in 2 h 05 min, at 12:05 UTC"
    assert time_left(deadline, deadline - timedelta(seconds=30)) == "in 30 s, at 12:05 UTC"
    assert time_left(deadline, deadline) == "expired at 12:05 UTC"
