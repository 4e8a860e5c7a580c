"""Approval links: an HMAC-SHA256 signature bound to (approval id, approver, expiry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from controlroom.errors import ApprovalExpired, ApprovalForbidden

APPROVAL_ID_PATTERN = r"^apr-[0-9a-f]{32}$"
_MAX_APPROVER_LENGTH = 254


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link vouches for."""

    approval_id: str
    approver: str
    expires: int


def sign(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """Signature of one approver's link: base64url (no padding) of HMAC-SHA256 over ``id|approver|expires``.

    Parameters
    ----------
    key : bytes
        The signing key (see ``controlroom.approval.secret.signing_key``).
    approval_id, approver : str
        The approval and the approver the link is for.
    expires : int
        Expiry of the link, seconds since the epoch.

    Returns
    -------
    str
        The signature, URL-safe.
    """
    return _mac(key, f"{approval_id}|{approver}|{int(expires)}")


def _mac(key: bytes, message: str) -> str:
    mac = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _query(approver: str, expires: int, signature_name: str, signature: str) -> str:
    fields = {"approver": approver, "expires": str(int(expires)), signature_name: signature}
    return urlencode(fields, quote_via=quote)


def approval_link(base_url: str, key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """The link an approver receives: ``{base}/approvals/{id}?approver=..&expires=..&sig=..``."""
    query = _query(approver, expires, "sig", sign(key, approval_id, approver, expires))
    return f"{base_url.rstrip('/')}/approvals/{approval_id}?{query}"


def verify(
    key: bytes, approval_id: str, approver: str | None, expires: str | None, sig: str | None, now: datetime
) -> LinkClaims:
    """Check a link's signature, then its expiry; return what it vouches for.

    Parameters
    ----------
    key : bytes
        The signing key.
    approval_id : str
        The approval id from the path.
    approver, expires, sig : str or None
        The link's query (or form) fields, as received.
    now : datetime
        The current time (aware).

    Returns
    -------
    LinkClaims
        The verified approval id, approver and expiry.

    Raises
    ------
    ApprovalForbidden
        A field is missing or malformed, or the signature does not match.
    ApprovalExpired
        The signature is good but the link has expired.
    """
    return _verified(sign, "approval link", key, approval_id, approver, expires, sig, now)


def _verified(
    signer: Callable[[bytes, str, str, int], str],
    what: str,
    key: bytes,
    approval_id: str,
    approver: str | None,
    expires: str | None,
    signature: str | None,
    now: datetime,
) -> LinkClaims:
    if (
        not approver
        or not expires
        or not signature
        or len(approver) > _MAX_APPROVER_LENGTH
        or len(signature) > 128
    ):
        raise ApprovalForbidden(f"the {what} is incomplete")
    if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
        raise ApprovalForbidden(f"the {what} is malformed")
    expected = signer(key, approval_id, approver, int(expires))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise ApprovalForbidden(f"the {what}'s signature does not match")
    if int(expires) <= int(now.timestamp()):
        raise ApprovalExpired(f"the {what} has expired")
    return LinkClaims(approval_id=approval_id, approver=approver, expires=int(expires))


# The decided page's link: a separate signature (its message starts with "view|", which no vote
# message can, as approval ids start with "apr-"), so the URL a browser keeps in its history after
# the POST can show the outcome but can never vote.
VIEW_TTL_SECONDS = 86_400


def sign_view(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """Signature of a result link: like ``sign``, over ``view|id|approver|expires`` (read-only)."""
    return _mac(key, f"view|{approval_id}|{approver}|{int(expires)}")


def result_location(key: bytes, approval_id: str, approver: str, expires: int) -> str:
    """The relative URL the POST redirects to (``{id}/result?...``), resolved against the form's URL."""
    query = _query(approver, expires, "view", sign_view(key, approval_id, approver, expires))
    return f"{approval_id}/result?{query}"


def verify_view(
    key: bytes, approval_id: str, approver: str | None, expires: str | None, view: str | None, now: datetime
) -> LinkClaims:
    """Check a result link (see ``verify``); it vouches only that ``approver`` may see the outcome.

    Raises
    ------
    ApprovalForbidden
        A field is missing or malformed, or the signature does not match.
    ApprovalExpired
        The result link has expired.
    """
    return _verified(sign_view, "result link", key, approval_id, approver, expires, view, now)
