"""The approval callback over REST events: GET shows and never decides, POST decides once, clear statuses."""

from __future__ import annotations

import base64
import html
import importlib.util
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest

from controlroom.approval import app as app_module
from controlroom.approval.inbox import sent_approval_emails
from controlroom.approval.signing import sign, sign_view
from controlroom.contracts import ApprovalStatus
from controlroom.local.gateway import rest_event
from controlroom.runtime import logger, stores
from tests.unit.test_approval_support import (
    SIGNING_KEY,
    TASK_TOKEN,
    RecordingSfn,
    configure,
    open_incident,
    request_approval,
)

REPO = Path(__file__).resolve().parents[2]
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def _load_handler():
    spec = importlib.util.spec_from_file_location(
        "approval_callback_handler", REPO / "functions" / "approval_callback" / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class Site:
    """One pending approval, its emailed links, and a way to call the callback like API Gateway would."""

    def __init__(self, lambda_context, sfn: RecordingSfn, approval_id: str, links: dict[str, str]) -> None:
        self.context, self.sfn, self.approval_id, self.links = lambda_context, sfn, approval_id, links
        self.handler = _load_handler()

    def call(self, method: str, target: str, body: bytes = b"", base64_body: bool = False) -> dict:
        event = rest_event(method, target, [("Content-Type", "application/x-www-form-urlencoded")], body)
        if base64_body:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        return self.handler(event, self.context)

    def get(self, approver: str) -> dict:
        link = urlsplit(self.links[approver])
        return self.call("GET", f"{link.path.removeprefix('/prod')}?{link.query}")

    def form_of(self, approver: str) -> dict[str, str]:
        """What a browser would post from the page: the hidden fields of the GET page."""
        page = self.get(approver)
        assert page["statusCode"] == 200, page["body"]
        return {name: html.unescape(value) for name, value in _HIDDEN.findall(page["body"])}

    def post(self, fields: dict[str, str], **kwargs) -> dict:
        return self.call("POST", f"/approvals/{self.approval_id}", urlencode(fields).encode(), **kwargs)

    def submit(self, fields: dict[str, str], **kwargs) -> dict:
        """POST as a browser does: expect 303 See Other, then GET its Location (what a refresh repeats)."""
        response = self.post(fields, **kwargs)
        assert response["statusCode"] == 303, response["body"]
        self.result_url = urljoin(f"/approvals/{self.approval_id}", _header(response, "Location"))
        return self.call("GET", self.result_url)

    def status(self) -> ApprovalStatus:
        return stores().checkpoint.get_approval(self.approval_id).status


def _site(aws, monkeypatch, lambda_context, sfn=None, **state) -> Site:
    configure(aws, monkeypatch, required=state.pop("required", 1))
    open_incident(aws, state.get("alarm_name", "checkout-errors"))
    approval_id = request_approval(lambda_context, **state)["approval_id"]
    links = {email.to[0]: email.links[0] for email in sent_approval_emails(approval_id=approval_id)}
    sfn = sfn or RecordingSfn()
    monkeypatch.setattr(app_module, "_sfn", lambda: sfn)
    return Site(lambda_context, sfn, approval_id, links)


def _header(response: dict, name: str) -> str:
    values = (response.get("multiValueHeaders") or {}).get(name) or [
        (response.get("headers") or {}).get(name)
    ]
    assert values[0], f"no {name} header in {response}"
    return str(values[0])


@pytest.fixture
def site(aws, monkeypatch, lambda_context) -> Site:
    return _site(aws, monkeypatch, lambda_context)


def _message(response: dict) -> str:
    match = re.search(r'<p id="status-message"[^>]*>(.*?)</p>', response["body"])
    assert match, response["body"]
    return html.unescape(match.group(1))


def test_get_shows_the_plan_and_decides_nothing(site):
    # When alice opens her link (twice, as a mail scanner and then she would)
    site.get("alice@example.com")
    response = site.get("alice@example.com")
    # Then she sees the plan and the form with stable ids, as HTML with safe headers
    assert response["statusCode"] == 200
    body = response["body"]
    for element in ('id="plan"', 'id="approve"', 'id="reject"', 'id="comment"', 'id="status-message"'):
        assert element in body
    assert "checkout-errors" in body and "rollback_lambda_alias" in body
    headers = response.get("multiValueHeaders") or {}
    assert any("text/html" in v for v in headers.get("Content-Type", []))
    assert "default-src 'none'" in headers["Content-Security-Policy"][0]
    # And nothing was decided
    assert site.status() is ApprovalStatus.PENDING and site.sfn.calls == []
    assert TASK_TOKEN not in body


def test_post_approve_decides_and_a_second_post_is_409(site):
    # Given alice's form as her browser would send it
    fields = site.form_of("alice@example.com")
    # When she approves
    response = site.submit({**fields, "verdict": "approve", "comment": "ok <b>go</b>"})
    # Then 303 to a 200 result page, DECIDED, and SendTaskSuccess was called once
    assert response["statusCode"] == 200 and "Approved" in _message(response)
    assert site.status() is ApprovalStatus.DECIDED
    assert [name for name, _ in site.sfn.calls] == ["send_task_success"]
    # When bob then rejects with his own valid form, or alice clicks again
    bob = site.post({**site_fields(site, "bob@example.com"), "verdict": "reject"})
    again = site.post({**fields, "verdict": "approve"})
    # Then both see 409 naming who decided, and the flow was not told again
    for refused in (bob, again):
        assert refused["statusCode"] == 409
        assert "approved by alice@example.com" in _message(refused)
    assert len(site.sfn.calls) == 1
    assert site.get("carol@example.com")["statusCode"] == 409


def site_fields(site: Site, approver: str) -> dict[str, str]:
    """Form fields built from the link alone (the page is 409 once decided)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(site.links[approver]).query).items()}
    digest = stores().checkpoint.get_approval(site.approval_id).plan_digest
    return {**query, "plan_digest": digest}


def test_post_reject_fails_the_task(site):
    fields = site.form_of("bob@example.com")
    response = site.submit({**fields, "verdict": "reject", "comment": "not now"})
    assert response["statusCode"] == 200 and "Rejected" in _message(response)
    assert site.sfn.calls[0][1]["error"] == "ApprovalRejected"


def test_tampered_and_foreign_links_are_403(site):
    alice = {k: v[0] for k, v in parse_qs(urlsplit(site.links["alice@example.com"]).query).items()}
    bob = {k: v[0] for k, v in parse_qs(urlsplit(site.links["bob@example.com"]).query).items()}
    base = f"/approvals/{site.approval_id}"
    mallory_sig = sign(SIGNING_KEY.encode(), site.approval_id, "mallory@example.com", int(alice["expires"]))
    cases = {
        "sig changed": {**alice, "sig": alice["sig"][:-2] + "AA"},
        "approver swapped": {**alice, "approver": "bob@example.com"},
        "bob's sig on alice": {**alice, "sig": bob["sig"]},
        "expiry extended": {**alice, "expires": str(int(alice["expires"]) + 3600)},
        "no signature": {"approver": alice["approver"], "expires": alice["expires"]},
        "signed but not an approver": {**alice, "approver": "mallory@example.com", "sig": mallory_sig},
    }
    for case, query in cases.items():
        assert site.call("GET", f"{base}?{urlencode(query)}")["statusCode"] == 403, case
        post = site.post({**query, "verdict": "approve", "plan_digest": "x"})
        assert post["statusCode"] == 403, case
    assert site.status() is ApprovalStatus.PENDING and site.sfn.calls == []


def test_expired_unknown_and_malformed(site):
    key = SIGNING_KEY.encode()
    past = 1_000_000_000
    expired = {
        "approver": "alice@example.com",
        "expires": past,
        "sig": sign(key, site.approval_id, "alice@example.com", past),
    }
    assert site.call("GET", f"/approvals/{site.approval_id}?{urlencode(expired)}")["statusCode"] == 410
    unknown_id = "apr-" + "0" * 32
    future = 4_000_000_000
    unknown = {
        "approver": "alice@example.com",
        "expires": future,
        "sig": sign(key, unknown_id, "alice@example.com", future),
    }
    assert site.call("GET", f"/approvals/{unknown_id}?{urlencode(unknown)}")["statusCode"] == 404
    assert site.call("GET", "/approvals/not-an-id?approver=a&expires=1&sig=x")["statusCode"] == 404
    assert site.call("GET", "/elsewhere")["statusCode"] == 404
    assert site.call("PUT", f"/approvals/{site.approval_id}")["statusCode"] == 404


def test_bad_form_input_is_400_or_409_and_decides_nothing(site):
    fields = site.form_of("alice@example.com")
    assert site.post({**fields, "verdict": "maybe"})["statusCode"] == 400
    assert site.post({**fields, "verdict": "approve", "comment": "x" * 1001})["statusCode"] == 400
    changed = site.post({**fields, "verdict": "approve", "plan_digest": "0" * 64})
    assert changed["statusCode"] == 409 and "plan" in _message(changed).lower()
    garbage = site.call("POST", f"/approvals/{site.approval_id}", b"%%%garbage&&=")
    assert garbage["statusCode"] == 403
    event_body = rest_event("POST", f"/approvals/{site.approval_id}", [], b"")
    event_body.update(body="!!!", isBase64Encoded=True)
    assert site.handler(event_body, site.context)["statusCode"] == 400
    assert site.status() is ApprovalStatus.PENDING and site.sfn.calls == []


def test_base64_encoded_form_body_is_accepted(site):
    fields = site.form_of("alice@example.com")
    response = site.submit({**fields, "verdict": "approve"}, base64_body=True)
    assert response["statusCode"] == 200 and site.status() is ApprovalStatus.DECIDED


def test_execution_no_longer_waiting_is_410(aws, monkeypatch, lambda_context):
    site = _site(aws, monkeypatch, lambda_context, sfn=RecordingSfn(error_code="TaskTimedOut"))
    response = site.submit({**site.form_of("alice@example.com"), "verdict": "approve"})
    assert response["statusCode"] == 410 and "no longer waiting" in _message(response)


def test_two_of_three_over_the_web(aws, monkeypatch, lambda_context):
    # Given an approval needing two approvals
    site = _site(aws, monkeypatch, lambda_context, required=2)
    # When alice approves, Then her vote is recorded and one more is needed
    first = site.submit({**site.form_of("alice@example.com"), "verdict": "approve"})
    assert first["statusCode"] == 200 and "1 more" in _message(first) and site.sfn.calls == []
    # And alice's link now says she already voted
    assert site.get("alice@example.com")["statusCode"] == 409
    # When bob approves, Then it is decided
    second = site.submit({**site.form_of("bob@example.com"), "verdict": "approve"})
    assert (
        second["statusCode"] == 200 and site.status() is ApprovalStatus.DECIDED and len(site.sfn.calls) == 1
    )


def test_untrusted_text_is_escaped(aws, monkeypatch, lambda_context):
    # Given an alarm whose name carries markup
    site = _site(aws, monkeypatch, lambda_context, alarm_name='<script>alert("x")</script>')
    # When the page is shown, Then the markup is text, never a tag
    body = site.get("alice@example.com")["body"]
    assert "<script>" not in body and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_no_token_or_signature_in_logs(site, capsys, caplog):
    # Given debug logging
    previous = logger.log_level
    logger.setLevel("DEBUG")
    try:
        fields = site.form_of("alice@example.com")
        site.post({**fields, "verdict": "maybe"})
        site.post({**fields, "verdict": "approve"})
    finally:
        logger.setLevel(previous)
    # Then neither the token nor the link signature was logged
    output = capsys.readouterr()
    logs = output.out + output.err + caplog.text
    assert TASK_TOKEN not in logs and fields["sig"] not in logs


def test_the_optional_human_action_answer_is_audited(site):
    # Given alice's page offers the optional "what did you do?" answer
    assert 'id="human-action"' in site.get("alice@example.com")["body"]
    fields = site.form_of("alice@example.com")
    # When she rejects and says she did something else herself
    response = site.submit({**fields, "verdict": "reject", "human_action": "did_other"})
    # Then the answer is in the incident's audit chain, by her, for the scorecard
    assert response["statusCode"] == 200
    incident_id = stores().checkpoint.get_approval(site.approval_id).incident_id
    answers = [r for r in stores().audit.records(incident_id) if r.kind == "human_action"]
    assert [(r.actor, r.payload["answer"]) for r in answers] == [("alice@example.com", "did_other")]


def test_an_unknown_human_action_is_400_and_decides_nothing(site):
    fields = site.form_of("alice@example.com")
    response = site.post({**fields, "verdict": "approve", "human_action": "yolo"})
    assert response["statusCode"] == 400 and site.status() is ApprovalStatus.PENDING


def _by_id(response: dict, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|h1|p|div)>', response["body"], re.S)
    assert match, f"no #{element_id} in {response['body']}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def test_post_redirects_to_a_read_only_result_page_and_a_refresh_records_nothing(site):
    # Given alice's form
    fields = site.form_of("alice@example.com")
    # When she approves, Then the POST answers 303 to /approvals/<id>/result, without her voting signature
    response = site.post({**fields, "verdict": "approve", "comment": "roll it"})
    assert response["statusCode"] == 303
    location = _header(response, "Location")
    assert location.startswith(f"{site.approval_id}/result?") and fields["sig"] not in location
    # When her browser follows it, and she refreshes twice
    pages = [site.call("GET", urljoin(f"/approvals/{site.approval_id}", location)) for _ in range(3)]
    # Then every load shows the decision, who made it, the comment and what happens next
    for page in pages:
        assert page["statusCode"] == 200
        assert _message(page) == "Approved by alice@example.com."
        assert "\u201croll it\u201d" in page["body"] and "Execute runs" in _by_id(page, "next-step")
        assert fields["sig"] not in page["body"] and TASK_TOKEN not in page["body"]
    # And there is one vote and one SendTaskSuccess: a refresh resubmits nothing
    assert len(stores().checkpoint.get_approval(site.approval_id).votes) == 1
    assert [name for name, _ in site.sfn.calls] == ["send_task_success"]


def test_the_result_link_cannot_vote_and_cannot_be_forged(site):
    fields = site.form_of("bob@example.com")
    site.submit({**site.form_of("alice@example.com"), "verdict": "approve"})
    result = {k: v[0] for k, v in parse_qs(urlsplit(site.result_url).query).items()}
    # The result link's signature is no voting signature (bob's link's fields with it are refused)
    post = site.post({**fields, "sig": result["view"], "approver": result["approver"], "verdict": "reject"})
    assert post["statusCode"] == 403
    # And a result link for another approver, or with a changed expiry, shows nothing
    base = f"/approvals/{site.approval_id}/result"
    for query in (
        {**result, "approver": "bob@example.com"},
        {**result, "expires": str(int(result["expires"]) + 1)},
    ):
        refused = site.call("GET", f"{base}?{urlencode(query)}")
        assert (
            refused["statusCode"] == 403
            and stores().checkpoint.get_approval(site.approval_id).incident_id not in refused["body"]
        )
    assert len(site.sfn.calls) == 1


def test_a_vote_of_two_needed_redirects_to_a_page_saying_who_else_may_approve(
    aws, monkeypatch, lambda_context
):
    site = _site(aws, monkeypatch, lambda_context, required=2)
    page = site.submit({**site.form_of("alice@example.com"), "verdict": "approve"})
    assert page["statusCode"] == 200 and _message(page).startswith("Your approval is recorded; 1 more")
    assert "bob@example.com and carol@example.com may still approve" in _by_id(page, "next-step")


def test_an_expired_link_says_whether_the_approval_escalated_or_is_still_pending(site, monkeypatch):
    link = site.links["alice@example.com"]
    later = stores().checkpoint.get_approval(site.approval_id).expires_at + timedelta(seconds=1)
    monkeypatch.setattr(app_module, "utcnow", lambda: later)
    # When the link has expired but the flow has not timed out yet
    pending = site.get("alice@example.com")
    # Then: 410, still pending, it escalates when the flow times out
    assert pending["statusCode"] == 410 and "is still pending" in _message(pending)
    # When the flow timed out (Escalate marks the approval EXPIRED)
    stores().checkpoint.expire_approval(site.approval_id)
    escalated = site.get("alice@example.com")
    assert escalated["statusCode"] == 410 and "was escalated to on-call" in _message(escalated)
    assert stores().checkpoint.get_approval(site.approval_id).incident_id in _by_id(escalated, "reference")
    assert link == site.links["alice@example.com"] and site.sfn.calls == []


def test_error_pages_give_the_incident_id_when_known_and_the_next_step(site, monkeypatch):
    incident_id = stores().checkpoint.get_approval(site.approval_id).incident_id
    fields = site.form_of("alice@example.com")
    # A changed plan (the link was valid): the incident id and what to do
    changed = site.post({**fields, "verdict": "approve", "plan_digest": "0" * 64})
    assert changed["statusCode"] == 409 and incident_id in _by_id(changed, "reference")
    assert "Open the link from your approval email again" in _by_id(changed, "next-step")

    # Our own failure after the link was checked: 500, nothing decided, the incident id, what to do
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "decide", broken)
    failed = site.post({**fields, "verdict": "approve"})
    assert failed["statusCode"] == 500 and "nothing was decided" in _message(failed)
    assert incident_id in _by_id(failed, "reference") and "Try again" in _by_id(failed, "next-step")
    # A forged link learns nothing about the approval, but is told what to do
    forged = site.post({**fields, "sig": "A" * 43, "verdict": "approve"})
    assert forged["statusCode"] == 403 and incident_id not in forged["body"]
    assert "your approval email" in _by_id(forged, "next-step")
    # An unknown approval: 404 with the next step
    unknown = site.call("GET", "/approvals/apr-" + "0" * 32 + "/result?approver=a&expires=1&view=x")
    assert unknown["statusCode"] in (403, 404) and _by_id(unknown, "next-step")
    assert site.status() is ApprovalStatus.PENDING


def test_a_result_link_before_any_vote_says_nothing_is_decided_yet(site):
    # Given a correctly signed result link for bob, who has not voted
    expires = int(stores().checkpoint.get_approval(site.approval_id).expires_at.timestamp())
    view = sign_view(SIGNING_KEY.encode(), site.approval_id, "bob@example.com", expires)
    query = urlencode({"approver": "bob@example.com", "expires": expires, "view": view})
    page = site.call("GET", f"/approvals/{site.approval_id}/result?{query}")
    # Then it claims no decision and no vote, and it decided nothing
    assert page["statusCode"] == 409 and _message(page) == "Nothing has been decided on this request yet."
    assert site.status() is ApprovalStatus.PENDING and site.sfn.calls == []
