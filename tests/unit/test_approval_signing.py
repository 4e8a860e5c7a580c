"""Approval links: the signature binds id, approver and expiry; anything changed or late is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from controlroom.approval.secret import forget_keys, signing_key
from controlroom.approval.signing import approval_link, sign, verify
from controlroom.errors import ApprovalExpired, ApprovalForbidden, ConfigurationError

KEY = b"0123456789abcdef0123456789abcdef"
APPROVAL_ID = "apr-" + "a" * 32
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
EXPIRES = int((NOW + timedelta(minutes=30)).timestamp())


def _query(link: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


def test_link_round_trip():
    # Given a link signed for alice (an address with characters that need quoting)
    link = approval_link("https://x.test/prod/", KEY, APPROVAL_ID, "alice+ops@example.com", EXPIRES)
    # Then it points at the approval and its fields verify back to the same claims
    assert link.startswith(f"https://x.test/prod/approvals/{APPROVAL_ID}?")
    query = _query(link)
    claims = verify(KEY, APPROVAL_ID, query["approver"], query["expires"], query["sig"], NOW)
    assert (claims.approval_id, claims.approver, claims.expires) == (
        APPROVAL_ID,
        "alice+ops@example.com",
        EXPIRES,
    )
    assert "=" not in query["sig"] and "+" not in query["sig"] and "/" not in query["sig"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("approval_id", "apr-" + "b" * 32),
        ("approver", "mallory@example.com"),
        ("expires", str(EXPIRES + 3600)),
        ("sig", sign(KEY, APPROVAL_ID, "mallory@example.com", EXPIRES)),
    ],
)
def test_any_changed_field_is_forbidden(field, value):
    # Given alice's genuine link fields
    fields = {
        "approval_id": APPROVAL_ID,
        "approver": "alice@example.com",
        "expires": str(EXPIRES),
        "sig": sign(KEY, APPROVAL_ID, "alice@example.com", EXPIRES),
    }
    # When one field is changed
    fields[field] = value
    # Then verification refuses it
    with pytest.raises(ApprovalForbidden):
        verify(KEY, fields["approval_id"], fields["approver"], fields["expires"], fields["sig"], NOW)


def test_link_signed_with_another_key_is_forbidden():
    sig = sign(b"another-key-another-key-another!", APPROVAL_ID, "alice@example.com", EXPIRES)
    with pytest.raises(ApprovalForbidden):
        verify(KEY, APPROVAL_ID, "alice@example.com", str(EXPIRES), sig, NOW)


@pytest.mark.parametrize(
    "approver, expires, sig",
    [
        (None, str(EXPIRES), "x"),
        ("a@b.c", None, "x"),
        ("a@b.c", str(EXPIRES), None),
        ("a@b.c", "-5", "x"),
        ("a@b.c", "12e3", "x"),
        ("a@b.c", "٣٣", "x"),
        ("a" * 300, str(EXPIRES), "x"),
    ],
)
def test_missing_or_malformed_fields_are_forbidden(approver, expires, sig):
    with pytest.raises(ApprovalForbidden):
        verify(KEY, APPROVAL_ID, approver, expires, sig, NOW)


def test_expired_link_is_refused_even_with_a_good_signature():
    # Given a correctly signed link that expired one second ago
    expired = int(NOW.timestamp()) - 1
    sig = sign(KEY, APPROVAL_ID, "alice@example.com", expired)
    # Then it is refused as expired, not forbidden
    with pytest.raises(ApprovalExpired):
        verify(KEY, APPROVAL_ID, "alice@example.com", str(expired), sig, NOW)


def test_signing_key_is_read_once_per_arn(aws):
    # Given a signing secret in Secrets Manager
    forget_keys()
    secrets = aws.client("secretsmanager")
    arn = secrets.create_secret(Name="signing", SecretString='{"key": "' + "z" * 40 + '"}')["ARN"]
    # When the key is read, the secret changes, and the key is read again
    first = signing_key(arn)
    secrets.put_secret_value(SecretId=arn, SecretString="y" * 40)
    # Then the cached key (from the JSON "key" field) is used until the cache is dropped
    assert first == b"z" * 40 and signing_key(arn) == first
    forget_keys()
    assert signing_key(arn) == b"y" * 40


def test_short_or_missing_signing_secret_is_a_configuration_error(aws):
    forget_keys()
    arn = aws.client("secretsmanager").create_secret(Name="weak", SecretString="short")["ARN"]
    with pytest.raises(ConfigurationError):
        signing_key(arn)
    with pytest.raises(ConfigurationError):
        signing_key("")
