"""Server-rendered HTML for approvers: the brief, the decision form and every result page (all escaped)."""

from __future__ import annotations

import json
from html import escape

from controlroom.contracts import ApprovalRecord
from controlroom.contracts.approval import ApprovalBrief

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;text-align:left;"
    "vertical-align:top}code,pre{font-size:.85rem;white-space:pre-wrap;word-break:break-all}"
    ".ok{color:#135e1b}.warn{color:#8a5a00}.error{color:#a11}"
    "button{font-size:1rem;padding:.5rem 1.2rem;margin-right:1rem}textarea{width:100%;min-height:4rem}"
)
# Sent with every page: no scripts at all, forms post only back here, never framed, no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def e(value: object) -> str:
    """HTML-escape any value (quotes included), for text and attribute values alike."""
    return escape(str(value), quote=True)


def layout(title: str, message: str, kind: str, body: str = "") -> str:
    """A complete page: heading, the status message (element #status-message) and the body."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)} - controlroom</title><style>{_STYLE}</style></head><body><main>"
        f'<h1>{e(title)}</h1><p id="status-message" class="{e(kind)}">{e(message)}</p>{body}'
        "</main></body></html>"
    )


def brief_html(brief: ApprovalBrief) -> str:
    """The brief as HTML sections: what fired, the diagnosis, the actions, evidence highlights, expiry."""
    rows = "".join(
        f"<tr><td><code>{e(a.action_id)}</code></td><td>{e(a.action_type)}<br><code>{e(a.target)}</code></td>"
        f"<td>{e(a.risk)}</td><td>{e(a.effect or 'n/a')}<br><small>{e(', '.join(a.reasons))}</small></td>"
        f"<td>{e(a.rationale)}<pre>{e(json.dumps(a.parameters, sort_keys=True, indent=1))}</pre></td></tr>"
        for a in brief.actions
    )
    changes = "".join(f"<li>{e(line)}</li>" for line in brief.changes) or "<li>none found</li>"
    missing = "".join(f"<li>{e(line)}</li>" for line in brief.missing_evidence) or "<li>none</li>"
    return (
        f"<h2>What fired</h2><p><strong>{e(brief.alarm_name)}</strong> on <code>{e(brief.resource)}</code> "
        f"({e(brief.environment)}) at {e(f'{brief.fired_at:%Y-%m-%d %H:%M:%S}')} UTC, incident "
        f"<code>{e(brief.incident_id)}</code>.</p><p>{e(brief.state_reason)}</p>"
        f"<h2>Diagnosis</h2><p>{e(brief.diagnosis_cause)}: {e(brief.diagnosis_summary)} "
        f"(confidence {brief.confidence:.0%}, by {e(brief.diagnosis_produced_by)})</p>"
        f"<h2>Plan</h2><p>{e(brief.plan_summary)}</p>"
        "<table><tr><th>Action</th><th>Type and target</th><th>Risk</th><th>Policy</th><th>Why</th></tr>"
        f"{rows}</table><p>Policy: {e(brief.policy_outcome)}: {e(brief.policy_reason)}</p>"
        f"<h2>Evidence highlights</h2><h3>Recent changes</h3><ul>{changes}</ul>"
        f"<h3>Evidence that could not be read</h3><ul>{missing}</ul>"
        f"<p>Plan digest <code>{e(brief.plan_digest)}</code>. This request expires at "
        f"{e(f'{brief.expires_at:%Y-%m-%d %H:%M:%S}')} UTC.</p>"
    )


def deployment_html(brief: ApprovalBrief) -> str:
    """The deployment section of a brief: versions, the manifest diff, the risk reasons, the canary plan."""
    deployment = brief.deployment
    if deployment is None:
        return ""
    diff = "".join(f"<li><code>{e(line)}</code></li>" for line in deployment.diff) or "<li>no change</li>"
    reasons = "".join(f"<li>{e(line)}</li>" for line in deployment.risk_reasons)
    steps = "".join(f"<li>{e(line)}</li>" for line in deployment.canary_plan)
    freeze = (
        f'<p class="warn">Break-glass: change freeze {e(deployment.freeze_window)} is in force.</p>'
        if deployment.freeze_window
        else ""
    )
    return (
        f'<section id="deployment"><h2>Deployment</h2><p><code>{e(deployment.function_name)}:'
        f"{e(deployment.alias)}</code> from version {e(deployment.stable_version)} to "
        f"{e(deployment.candidate_version)} ({e(deployment.target_environment)}), requested by "
        f"{e(deployment.requested_by)}, deployment <code>{e(deployment.deployment_id)}</code>.</p>{freeze}"
        f'<h3>What changes</h3><ul id="diff">{diff}</ul>'
        f'<h3>Risk: {e(deployment.risk_level)} ({deployment.risk_score})</h3><ul id="risk">{reasons}</ul>'
        f'<h3>Canary plan</h3><ol id="canary">{steps}</ol></section>'
    )


def decision_page(brief: ApprovalBrief, record: ApprovalRecord, approver: str, expires: int, sig: str) -> str:
    """GET: the plan (#plan) and a form with #comment, #approve and #reject; showing it decides nothing."""
    approvals = sum(1 for v in record.votes if v.verdict == "approve")
    progress = (
        f" {approvals} of {record.required_approvals} approvals so far."
        if record.required_approvals > 1
        else ""
    )
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{e(value)}">'
        for name, value in (
            ("approver", approver),
            ("expires", expires),
            ("sig", sig),
            ("plan_digest", record.plan_digest),
        )
    )
    form = (
        f'<form method="post" action="{e(record.approval_id)}" id="decision-form">{hidden}'
        '<p><label for="comment">Comment (optional)</label><br>'
        '<textarea id="comment" name="comment" maxlength="1000"></textarea></p>'
        f"{human_action_fieldset()}"
        '<p><button id="approve" type="submit" name="verdict" value="approve">Approve</button>'
        '<button id="reject" type="submit" name="verdict" value="reject">Reject</button></p></form>'
    )
    body = f'{deployment_html(brief)}<section id="plan">{brief_html(brief)}</section><p>Deciding as <strong>{e(approver)}</strong>.</p>{form}'
    return layout(
        "Approval needed",
        f"Review the plan, then approve or reject it. Nothing has been decided yet.{progress}",
        "warn",
        body,
    )


def human_action_fieldset() -> str:
    """The optional #human-action answer (for the autonomy scorecard): what the approver did themselves."""
    from controlroom.autonomy.answers import ANSWERS

    options = "".join(
        f'<label><input type="radio" name="human_action" value="{e(value)}"> {e(text)}</label><br>'
        for value, text in ANSWERS.items()
    )
    return (
        '<fieldset id="human-action"><legend>Optional: what did you do about it yourself?</legend>'
        f"{options}</fieldset>"
    )


def message_page(title: str, message: str, kind: str = "error") -> str:
    """A result or refusal page: a title and the #status-message, nothing else."""
    return layout(title, message, kind)
