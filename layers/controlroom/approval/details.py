"""The approval page's collapsible details: diagnosis, evidence, policy reasons, every action, the deployment."""

from __future__ import annotations

import json
from html import escape

from controlroom.approval.wording import action_sentence, effect_words, policy_words
from controlroom.contracts.approval import ApprovalBrief


def e(value: object) -> str:
    """HTML-escape any value (quotes included), for text and attribute values alike."""
    return escape(str(value), quote=True)


def items(lines: list[str], empty: str, code: bool = False) -> str:
    """``<li>`` per line (escaped), or one ``<li>`` saying ``empty``."""
    if not lines:
        return f"<li>{e(empty)}</li>"
    if code:
        return "".join(f"<li><code>{e(line)}</code></li>" for line in lines)
    return "".join(f"<li>{e(line)}</li>" for line in lines)


def _section(element_id: str, title: str, body: str, open_: bool = False) -> str:
    opened = " open" if open_ else ""
    return f'<details id="{element_id}"{opened}><summary>{e(title)}</summary>{body}</details>'


def diagnosis_section(brief: ApprovalBrief) -> str:
    """What fired and what the diagnosis blames (model text is shown as text, never markup)."""
    body = (
        f"<h3>What fired</h3><p><strong>{e(brief.alarm_name)}</strong> on <code>{e(brief.resource)}</code> "
        f"({e(brief.environment)}) at {e(f'{brief.fired_at:%Y-%m-%d %H:%M:%S}')} UTC.</p>"
        f"<p>{e(brief.state_reason)}</p>"
        f"<h3>Diagnosis</h3><p>{e(brief.diagnosis_cause)}: {e(brief.diagnosis_summary)}</p>"
        f'<p class="muted">Confidence {brief.confidence:.0%}, by {e(brief.diagnosis_produced_by)}.</p>'
    )
    return _section("diagnosis", "Diagnosis", body)


def evidence_section(brief: ApprovalBrief) -> str:
    """Metric values, log lines, recent changes and what could not be read."""
    logs = "".join(f"<pre>{e(line)}</pre>" for line in brief.log_lines) or "<p>No log lines were read.</p>"
    body = (
        f'<h3>Metrics</h3><ul id="evidence-metrics">{items(brief.metrics, "no metric was read")}</ul>'
        f'<h3>Log lines</h3><div id="evidence-logs">{logs}</div>'
        f'<h3>Recent changes</h3><ul id="evidence-changes">{items(brief.changes, "none found")}</ul>'
        f'<h3>Evidence that could not be read</h3><ul id="evidence-missing">'
        f"{items(brief.missing_evidence, 'none')}</ul>"
    )
    return _section("evidence", "Evidence", body)


def policy_section(brief: ApprovalBrief) -> str:
    """Why a human is asked: the policy's outcome and, per action, its reasons in words."""
    per_action = "".join(
        f"<li>{e(action_sentence(a))}: {e(effect_words(a.effect))}<ul>"
        f"{items(policy_words(a.reasons), 'no policy matched')}</ul></li>"
        for a in brief.actions
    )
    body = f'<p>{e(brief.policy_reason)}</p><ul id="policy-reasons">{per_action}</ul>'
    return _section("policy", "Why a human must decide", body)


def actions_section(brief: ApprovalBrief) -> str:
    """Every planned action with its type, target, risk, rationale and parameters (id ``plan``)."""
    actions = "".join(
        f"<li><strong>{e(action_sentence(a))}</strong><br><code>{e(a.action_id)}</code> "
        f"{e(a.action_type)} on <code>{e(a.target)}</code>, risk {e(a.risk)}, policy {e(a.effect or 'n/a')}"
        f"<br>{e(a.rationale)}<pre>{e(json.dumps(a.parameters, sort_keys=True, indent=1))}</pre></li>"
        for a in brief.actions
    )
    title = (
        "Deployment plan" if brief.deployment is not None else f"The plan ({len(brief.actions)} action(s))"
    )
    body = (
        f"<p>{e(brief.plan_summary)}</p><ol>{actions}</ol>"
        f'<p class="muted">Plan digest <code>{e(brief.plan_digest)}</code>; expires '
        f"{e(f'{brief.expires_at:%Y-%m-%d %H:%M:%S}')} UTC.</p>"
    )
    return _section("plan", title, body)


def deployment_section(brief: ApprovalBrief) -> str:
    """The deployment: versions, the manifest diff, the risk reasons, the canary plan (open by default)."""
    deployment = brief.deployment
    if deployment is None:
        return ""
    freeze = (
        f'<p class="warn">Break-glass: change freeze {e(deployment.freeze_window)} is in force.</p>'
        if deployment.freeze_window
        else ""
    )
    body = (
        f"<p><code>{e(deployment.function_name)}:{e(deployment.alias)}</code> from version "
        f"{e(deployment.stable_version)} to {e(deployment.candidate_version)} "
        f"({e(deployment.target_environment)}), requested by {e(deployment.requested_by)}, deployment "
        f"<code>{e(deployment.deployment_id)}</code>.</p>{freeze}"
        f'<h3>What changes</h3><ul id="diff">{items(deployment.diff, "no change", code=True)}</ul>'
        f'<h3>Risk: {e(deployment.risk_level)} ({deployment.risk_score})</h3><ul id="risk">'
        f"{items(deployment.risk_reasons, 'no reasons')}</ul>"
        f'<h3>Canary plan</h3><ol id="canary">{items(deployment.canary_plan, "no steps")}</ol>'
    )
    return _section("deployment", "Deployment: diff, risk and canary plan", body, open_=True)


def details_html(brief: ApprovalBrief) -> str:
    """All detail sections for the brief, deployment or incident."""
    if brief.deployment is not None:
        return deployment_section(brief) + policy_section(brief) + actions_section(brief)
    return diagnosis_section(brief) + evidence_section(brief) + policy_section(brief) + actions_section(brief)
