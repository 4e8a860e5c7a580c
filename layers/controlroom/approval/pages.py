"""Server-rendered HTML for approvers: the summary card and decision form, and every result page (escaped)."""

from __future__ import annotations

from datetime import datetime

from controlroom.approval.details import details_html, e
from controlroom.approval.states import StateView
from controlroom.approval.style import PAGE_CSS
from controlroom.approval.summary import Summary, build_summary
from controlroom.approval.wording import environment_label, environment_of, headline, is_production
from controlroom.contracts import ApprovalRecord, utcnow
from controlroom.contracts.approval import ApprovalBrief

__all__ = ["SECURITY_HEADERS", "decision_page", "e", "layout", "message_page", "state_page"]

# Sent with every page: no scripts at all, forms post only back here, never framed, no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def layout(title: str, body: str, banner: str = "", production: bool = False) -> str:
    """A complete page: the environment banner (when known) above ``body``."""
    banner_html = (
        f'<div id="environment-banner" class="banner{" prod" if production else ""}" role="banner">'
        f"{e(banner)}</div>"
        if banner
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)} - controlroom</title><style>{PAGE_CSS}</style></head><body>"
        f"{banner_html}<main>{body}</main></body></html>"
    )


def _facts(facts: list[tuple[str, str, str, str]]) -> str:
    rows = []
    for element_id, label, value, css in facts:
        css_attr = f' class="{e(css)}"' if css else ""
        rows.append(f'<dt>{e(label)}</dt><dd id="{e(element_id)}"{css_attr}>{e(value)}</dd>')
    return f'<dl class="facts">{"".join(rows)}</dl>' if rows else ""


def summary_card(summary: Summary, message: str, kind: str) -> str:
    """The card: the action in one sentence (#action), the status (#status-message), then the facts."""
    facts = [(f.element_id, f.label, f.value, f.css_class) for f in summary.facts if f.primary]
    return (
        f'<section id="summary" class="card"><h1 id="action">{e(summary.headline)}</h1>'
        f'<p id="status-message" class="{e(kind)}">{e(message)}</p>{_facts(facts)}</section>'
    )


def human_action_fieldset() -> str:
    """The optional #human-action answer (for the autonomy scorecard): what the approver did themselves."""
    from controlroom.autonomy.answers import ANSWERS

    options = "".join(
        f'<label><input type="radio" name="human_action" value="{e(value)}"> {e(text)}</label><br>'
        for value, text in ANSWERS.items()
    )
    return (
        '<details id="human-action-details"><summary>Optional: what did you do about it yourself?</summary>'
        f'<fieldset id="human-action"><legend class="muted">For the autonomy scorecard</legend>{options}'
        "</fieldset></details>"
    )


def decision_page(
    brief: ApprovalBrief,
    record: ApprovalRecord,
    approver: str,
    expires: int,
    sig: str,
    now: datetime | None = None,
) -> str:
    """GET: the summary card, Approve and Reject under it, then the details; showing it decides nothing."""
    summary = build_summary(brief, record, approver, now or utcnow())
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{e(value)}">'
        for name, value in (
            ("approver", approver),
            ("expires", expires),
            ("sig", sig),
            ("plan_digest", record.plan_digest),
        )
    )
    if brief.deployment is not None:
        message = (
            f"Approve to start the canary, or reject to keep v{brief.deployment.stable_version}. "
            "Nothing has been decided yet."
        )
    else:
        message = "Nothing has been decided yet."
    form = (
        f'<form method="post" action="{e(record.approval_id)}" id="decision-form" class="card">{hidden}'
        '<label for="comment">Comment (optional, kept in the audit log)</label>'
        '<textarea id="comment" name="comment" maxlength="1000" rows="2"></textarea>'
        '<div class="buttons"><button id="approve" type="submit" name="verdict" value="approve">Approve</button>'
        '<button id="reject" type="submit" name="verdict" value="reject">Reject</button></div>'
        f"{human_action_fieldset()}</form>"
    )
    context = [(f.element_id, f.label, f.value, f.css_class) for f in summary.facts if not f.primary]
    context_card = f'<section id="context" class="card">{_facts(context)}</section>' if context else ""
    body = summary_card(summary, message, "warn") + form + context_card + details_html(brief)
    return layout(f"Approve: {summary.headline}", body, summary.banner, summary.production)


def state_page(view: StateView, brief: ApprovalBrief | None = None, approval_id: str | None = None) -> str:
    """A result or refusal page: what happened (#status-message), the facts, what happens next (#next-step)."""
    facts: list[tuple[str, str, str, str]] = []
    if brief is not None:
        facts.append(("action", "Action", headline(brief), ""))
    facts += [(f"fact-{index}", label, value, "") for index, (label, value) in enumerate(view.facts)]
    references = []
    if view.incident_id:
        references.append(f"{view.kind_of_subject.capitalize()} <code>{e(view.incident_id)}</code>")
    if approval_id:
        references.append(f"approval <code>{e(approval_id)}</code>")
    reference = f'<p id="reference" class="muted">{", ".join(references)}</p>' if references else ""
    body = (
        f'<section id="summary" class="card"><h1 id="title">{e(view.title)}</h1>'
        f'<p id="status-message" class="{e(view.kind)}">{e(view.message)}</p>{_facts(facts)}'
        f'<h2>What happens next</h2><p id="next-step">{e(view.next_step)}</p>{reference}</section>'
    )
    if brief is None:
        return layout(view.title, body)
    return layout(view.title, body, environment_label(brief), is_production(environment_of(brief)))


def message_page(title: str, message: str, kind: str = "error", next_step: str = "") -> str:
    """A bare page (unknown path, our own failure before anything was read): title, message, next step."""
    step = f'<h2>What to do</h2><p id="next-step">{e(next_step)}</p>' if next_step else ""
    return layout(
        title,
        f'<section id="summary" class="card"><h1 id="title">{e(title)}</h1>'
        f'<p id="status-message" class="{e(kind)}">{e(message)}</p>{step}</section>',
    )
