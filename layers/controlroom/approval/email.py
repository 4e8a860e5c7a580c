"""The approval email: one per approver, HTML and plain text, with that approver's signed link; sent via SES."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from controlroom.approval.pages import brief_html, e
from controlroom.contracts.approval import ApprovalBrief

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")
_SUBJECT_LIMIT = 200


@dataclass(frozen=True)
class RenderedEmail:
    """One approver's email, ready for SES."""

    subject: str
    html: str
    text: str


def subject_of(brief: ApprovalBrief) -> str:
    """A one-line subject: environment, alarm and resource (control characters removed)."""
    subject = f"[controlroom {brief.environment}] Approval needed: {brief.alarm_name} on {brief.resource}"
    return _CONTROL_CHARACTERS.sub(" ", subject)[:_SUBJECT_LIMIT]


def _text(brief: ApprovalBrief, link: str) -> str:
    lines = [
        f"Approval needed for incident {brief.incident_id} ({brief.environment}).",
        "",
        f"What fired: {brief.alarm_name} on {brief.resource} at {brief.fired_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  {brief.state_reason}",
        f"Diagnosis: {brief.diagnosis_cause}: {brief.diagnosis_summary} "
        f"(confidence {brief.confidence:.0%}, by {brief.diagnosis_produced_by})",
        f"Plan: {brief.plan_summary}",
    ]
    for action in brief.actions:
        lines.append(
            f"  - {action.action_id} {action.action_type} on {action.target}: risk {action.risk}, "
            f"policy {action.effect or 'n/a'} ({', '.join(action.reasons) or 'no policy ids'})"
        )
        lines.append(f"    why: {action.rationale}")
        lines.append(f"    parameters: {json.dumps(action.parameters, sort_keys=True)}")
    lines.append(f"Policy: {brief.policy_outcome}: {brief.policy_reason}")
    lines.append("Recent changes: " + ("; ".join(brief.changes) or "none found"))
    lines.append("Evidence that could not be read: " + ("; ".join(brief.missing_evidence) or "none"))
    lines += [
        f"Plan digest: {brief.plan_digest}",
        f"Expires: {brief.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        "Review and decide (opening the link decides nothing; the page has Approve and Reject buttons):",
        link,
        "",
        "This link is for you alone: do not forward it.",
    ]
    return "\n".join(lines)


def render_email(brief: ApprovalBrief, link: str) -> RenderedEmail:
    """Render one approver's email from the brief and that approver's signed link.

    Parameters
    ----------
    brief : ApprovalBrief
        What the approver is shown.
    link : str
        The approver's signed link (see ``signing.approval_link``).

    Returns
    -------
    RenderedEmail
    """
    html = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>Approval needed for incident <code>{e(brief.incident_id)}</code>.</p>{brief_html(brief)}"
        f'<p><a id="approval-link" href="{e(link)}">Review the plan and decide</a></p>'
        "<p><small>Opening the link decides nothing; the page has Approve and Reject buttons. "
        "This link is for you alone: do not forward it.</small></p></body></html>"
    )
    return RenderedEmail(subject=subject_of(brief), html=html, text=_text(brief, link))


def send_email(ses_client: Any, sender: str, recipient: str, email: RenderedEmail) -> str:
    """Send one rendered email to one recipient with SES; return the SES message id."""
    response = ses_client.send_email(
        Source=sender,
        Destination={"ToAddresses": [recipient]},
        Message={
            "Subject": {"Data": email.subject, "Charset": "UTF-8"},
            "Body": {
                "Text": {"Data": email.text, "Charset": "UTF-8"},
                "Html": {"Data": email.html, "Charset": "UTF-8"},
            },
        },
    )
    return str(response["MessageId"])
