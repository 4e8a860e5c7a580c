"""The local inbox: approval emails moto's SES "sent", with the links in them (local engine and tests only)."""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from html import unescape
from typing import Any

_HREF = re.compile(r"""href=["']([^"']+)["']""")
_APPROVAL_PATH = re.compile(r"/approvals/(apr-[0-9a-f]{32})\?")


@dataclass(frozen=True)
class InboxEmail:
    """One sent email as the local inbox shows it."""

    message_id: str
    source: str
    to: list[str]
    subject: str
    links: list[str]

    def approval_ids(self) -> set[str]:
        """The approvals this email links to."""
        return {match.group(1) for link in self.links for match in [_APPROVAL_PATH.search(link)] if match}


def links_in(body: str) -> list[str]:
    """Approval links in an email body (HTML hrefs, or bare URLs in plain text), unescaped, in order."""
    found = [unescape(href) for href in _HREF.findall(body)]
    if not found:
        found = re.findall(r"https?://\S+", body)
    return [link for link in found if _APPROVAL_PATH.search(link)]


def _email(message_id: str, source: str, destinations: Any, subject: str, body: str) -> InboxEmail:
    to = list((destinations or {}).get("ToAddresses", [])) if isinstance(destinations, dict) else []
    return InboxEmail(
        message_id=message_id, source=source, to=to, subject=subject or "", links=links_in(body or "")
    )


def _in_process() -> list[InboxEmail]:
    from moto.ses.models import Message, ses_backends

    emails: list[InboxEmail] = []
    for regions in ses_backends.values():
        for backend in regions.values():
            emails.extend(
                _email(m.id, m.source, m.destinations, m.subject, m.body)
                for m in backend.sent_messages
                if isinstance(m, Message)
            )
    return emails


def _from_server(endpoint: str) -> list[InboxEmail]:
    with urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/data.json", timeout=10) as response:
        data = json.loads(response.read())
    messages = data.get("ses", {}).get("Message", [])
    return [
        _email(
            m.get("id", ""),
            m.get("source", ""),
            m.get("destinations"),
            m.get("subject", ""),
            m.get("body", ""),
        )
        for m in messages
    ]


def sent_approval_emails(endpoint: str | None = None, approval_id: str | None = None) -> list[InboxEmail]:
    """Approval emails sent through moto's SES, oldest first.

    Parameters
    ----------
    endpoint : str, optional
        A moto server's URL: read its ``/moto-api/data.json`` (works from another process).
        Without it, read moto's in-process SES backend.
    approval_id : str, optional
        Only emails linking to this approval.

    Returns
    -------
    list of InboxEmail
        Only emails that carry at least one approval link.
    """
    emails = _from_server(endpoint) if endpoint else _in_process()
    emails = [email for email in emails if email.links]
    if approval_id:
        emails = [email for email in emails if approval_id in email.approval_ids()]
    return emails


def approval_links(engine: Any = None, approval_id: str | None = None) -> list[str]:
    """Every approval link sent (for one approval if given), e.g. to print them in the demo.

    Parameters
    ----------
    engine : object, optional
        Anything with an ``endpoint`` attribute (the local engine's client); None reads in-process.
    approval_id : str, optional
        Only links to this approval.
    """
    endpoint = getattr(engine, "endpoint", None) if engine is not None else None
    return [
        link
        for email in sent_approval_emails(endpoint, approval_id)
        for link in email.links
        if approval_id is None or f"/approvals/{approval_id}?" in link
    ]
