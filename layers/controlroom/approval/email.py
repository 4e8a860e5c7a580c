"""The approval email: one per approver, HTML and plain text, with that approver's signed link; sent via SES."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from controlroom.approval import style
from controlroom.approval.details import e
from controlroom.approval.summary import Fact, Summary, build_summary
from controlroom.approval.wording import clock, environment_label, policy_words, subject_phrase
from controlroom.contracts import ApprovalRecord, utcnow
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
    """``[PROD] Approve: roll back checkout live v2 -> v1 (expires 03:42 UTC)`` (control characters removed)."""
    label = "PROD" if environment_label(brief) == "PRODUCTION" else environment_label(brief)
    subject = f"[{label}] Approve: {subject_phrase(brief)} (expires {clock(brief.expires_at)})"
    return " ".join(_CONTROL_CHARACTERS.sub(" ", subject).split())[:_SUBJECT_LIMIT]


def _text(brief: ApprovalBrief, summary: Summary, link: str) -> str:
    lines = [
        f"{summary.banner}: approval needed for {summary.kind} {brief.incident_id}.",
        "",
        summary.headline,
        *(f"  {fact.label}: {fact.value}" for fact in summary.facts),
        "",
        "Review and decide (opening the link decides nothing; the page has Approve and Reject buttons):",
        link,
        "",
    ]
    if brief.deployment is not None:
        deployment = brief.deployment
        lines.append(f"Deployment {deployment.deployment_id}, requested by {deployment.requested_by}")
        lines += ["What changes:", *(f"  {line}" for line in deployment.diff or ["no change"])]
        lines += [f"Risk: {deployment.risk_level} ({deployment.risk_score})"]
        lines += [f"  {line}" for line in deployment.risk_reasons]
        lines += ["Canary plan:", *(f"  {line}" for line in deployment.canary_plan)]
    else:
        lines += [
            f"What fired: {brief.alarm_name} on {brief.resource} at {brief.fired_at:%Y-%m-%d %H:%M:%S} UTC",
            f"  {brief.state_reason}",
            f"Diagnosis: {brief.diagnosis_cause}: {brief.diagnosis_summary} "
            f"(confidence {brief.confidence:.0%}, by {brief.diagnosis_produced_by})",
            "Metrics: " + ("; ".join(brief.metrics) or "none read"),
            *(f"Log: {line}" for line in brief.log_lines[:3]),
        ]
    lines.append(f"Plan: {brief.plan_summary}")
    for action in brief.actions:
        reasons = "; ".join(policy_words(action.reasons)) or "no policy matched"
        lines.append(
            f"  - {action.action_id} {action.action_type} on {action.target}: risk {action.risk}, "
            f"policy {action.effect or 'n/a'} ({reasons})"
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
        "This link is for you alone: do not forward it.",
    ]
    return "\n".join(lines)


def _list(title: str, lines: list[str]) -> str:
    if not lines:
        return ""
    rows = "".join(f'<li style="{style.EMAIL_TEXT}">{e(line)}</li>' for line in lines)
    return f'<h2 style="{style.EMAIL_H2}">{e(title)}</h2><ul style="margin:0;padding-left:20px">{rows}</ul>'


def _details(brief: ApprovalBrief) -> str:
    if brief.deployment is not None:
        deployment = brief.deployment
        return (
            _list("What changes", deployment.diff)
            + _list(f"Risk: {deployment.risk_level} ({deployment.risk_score})", deployment.risk_reasons)
            + _list("Canary plan", deployment.canary_plan)
        )
    diagnosis = (
        f'<h2 style="{style.EMAIL_H2}">Diagnosis</h2><p style="{style.EMAIL_TEXT}">{e(brief.diagnosis_cause)}: '
        f"{e(brief.diagnosis_summary)} (confidence {brief.confidence:.0%}, by {e(brief.diagnosis_produced_by)})</p>"
    )
    logs = "".join(f'<pre style="{style.EMAIL_PRE}">{e(line)}</pre>' for line in brief.log_lines[:3])
    return (
        diagnosis
        + _list("Metrics", brief.metrics)
        + (f'<h2 style="{style.EMAIL_H2}">Log lines</h2>{logs}' if logs else "")
        + _list("Recent changes", brief.changes)
        + _list("Evidence that could not be read", brief.missing_evidence)
    )


def _html(brief: ApprovalBrief, summary: Summary, link: str) -> str:
    banner_style = style.EMAIL_BANNER_PROD if summary.production else style.EMAIL_BANNER
    facts = "".join(
        f'<tr><td style="{style.EMAIL_LABEL}">{e(fact.label)}</td>'
        f'<td style="{style.EMAIL_VALUE}">{e(fact.value)}</td></tr>'
        for fact in summary.facts
    )
    reasons = sorted({words for action in brief.actions for words in policy_words(action.reasons)})
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(summary.headline)}</title></head>"
        f'<body style="{style.EMAIL_BODY}"><table role="presentation" width="100%" cellpadding="0" '
        f'cellspacing="0" style="{style.EMAIL_CONTAINER}">'
        f'<tr><td id="environment-banner" style="{banner_style}">{e(summary.banner)}</td></tr>'
        f'<tr><td style="{style.EMAIL_CELL}"><h1 style="{style.EMAIL_H1}">{e(summary.headline)}</h1>'
        f'<p style="{style.EMAIL_TEXT}">Approval needed for {e(summary.kind)} <code>{e(brief.incident_id)}</code>.</p>'
        f'<table role="presentation" cellpadding="0" cellspacing="0">{facts}</table>'
        f'<p style="margin:18px 0 6px 0"><a id="approval-link" href="{e(link)}" style="{style.EMAIL_BUTTON}">'
        "Review and decide</a></p>"
        f'<p style="{style.EMAIL_SMALL}">Opening the link decides nothing; the page has Approve and Reject '
        "buttons. This link is for you alone: do not forward it.</p>"
        f"{_details(brief)}{_list('Why a human must decide', [brief.policy_reason, *reasons])}"
        "</td></tr></table></body></html>"
    )


def _for_email(summary: Summary, brief: ApprovalBrief) -> Summary:
    # "9 min left" is true when sent and false when read: the email states the deadline itself.
    deadline = f"{brief.expires_at:%Y-%m-%d %H:%M} UTC"
    facts = [
        Fact("expires", "Expires", deadline) if fact.element_id == "time-left" else fact
        for fact in summary.facts
    ]
    return replace(summary, facts=facts)


def render_email(
    brief: ApprovalBrief, link: str, record: ApprovalRecord | None = None, approver: str | None = None
) -> RenderedEmail:
    """Render one approver's email from the brief and that approver's signed link.

    Parameters
    ----------
    brief : ApprovalBrief
        What the approver is shown.
    link : str
        The approver's signed link (see ``signing.approval_link``).
    record : ApprovalRecord, optional
        The stored approval: adds the votes needed and who else may approve.
    approver : str, optional
        Whom the email is for (left out of "who else may approve").

    Returns
    -------
    RenderedEmail
    """
    summary = _for_email(build_summary(brief, record, approver, utcnow()), brief)
    return RenderedEmail(
        subject=subject_of(brief), html=_html(brief, summary, link), text=_text(brief, summary, link)
    )


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
