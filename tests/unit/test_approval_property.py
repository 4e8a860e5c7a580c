"""Whatever arrives at the approval callback, it never answers 5xx, never decides, never shows the token."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlroom.contracts import ApprovalStatus
from controlroom.local.gateway import rest_event
from controlroom.runtime import stores
from tests.unit.test_approval_app import _site
from tests.unit.test_approval_support import TASK_TOKEN

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
TEXT = st.text(max_size=60)


def test_arbitrary_requests_never_5xx_and_never_decide(aws, monkeypatch, lambda_context):
    # Given a pending approval and alice's genuine link fields
    site = _site(aws, monkeypatch, lambda_context)
    genuine = {k: v[0] for k, v in parse_qs(urlsplit(site.links["alice@example.com"]).query).items()}
    digest = stores().checkpoint.get_approval(site.approval_id).plan_digest
    path = st.one_of(
        st.just(f"/approvals/{site.approval_id}"),
        TEXT.map(lambda t: "/approvals/" + quote(t)),
        TEXT.map(lambda t: "/" + t),
    )
    fields = st.fixed_dictionaries(
        {},
        optional={
            "approver": st.one_of(st.just(genuine["approver"]), TEXT),
            "expires": st.one_of(st.just(genuine["expires"]), TEXT, st.integers().map(str)),
            "sig": st.one_of(st.just(genuine["sig"]), TEXT),
            "verdict": st.one_of(st.sampled_from(["approve", "reject"]), TEXT),
            "comment": st.text(max_size=1200),
            # Never the real digest: with every other field genuine, that would be a legitimate decision.
            "plan_digest": TEXT.filter(lambda d: d != digest),
        },
    )
    query = st.one_of(fields.map(urlencode), TEXT)
    body = st.one_of(fields.map(lambda f: urlencode(f).encode()), st.binary(max_size=300))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(method=METHODS, target_path=path, query_string=query, payload=body, base64_flag=st.booleans())
    def check(method, target_path, query_string, payload, base64_flag):
        # When any request arrives
        event = rest_event(method, f"{target_path}?{query_string}", [("Content-Type", "text/plain")], payload)
        if base64_flag and event["body"] is not None and not event["isBase64Encoded"]:
            event["isBase64Encoded"] = True  # a lying flag: the body is not base64
        response = site.handler(event, lambda_context)
        # Then it is a 2xx/4xx answer, nothing was decided, and the token is nowhere
        assert response["statusCode"] < 500, response["body"][:300]
        assert TASK_TOKEN not in str(response)
        assert stores().checkpoint.get_approval(site.approval_id).status is ApprovalStatus.PENDING
        assert site.sfn.calls == []

    check()
