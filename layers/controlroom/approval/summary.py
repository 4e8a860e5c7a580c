"""The approval's summary card, as data: the same facts head the page and the email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controlroom.approval.states import others_who_may_approve
from controlroom.approval.wording import (
    environment_label,
    environment_of,
    headline,
    human_list,
    is_production,
    plural,
    risk_of_brief,
    subject_kind,
    time_left,
)
from controlroom.contracts import ApprovalRecord
from controlroom.contracts.approval import ApprovalBrief

_CARD_TEXT_LIMIT = 160


@dataclass(frozen=True)
class Fact:
    """One line of the card: a stable element id (for tests and screen readers), a label, a value.

    ``primary`` facts head the page above the buttons; the others (context) follow them.
    """

    element_id: str
    label: str
    value: str
    css_class: str = ""
    primary: bool = True


@dataclass(frozen=True)
class Summary:
    """What an approver must see before deciding, in the order they read it."""

    banner: str
    production: bool
    headline: str
    kind: str
    facts: list[Fact]


def _votes(record: ApprovalRecord | None) -> str:
    if record is None:
        return "none yet"
    approvals = sum(1 for v in record.votes if v.verdict == "approve")
    return f"{approvals} of {plural(record.required_approvals, 'approval')} so far"


def _clip(text: str, limit: int = _CARD_TEXT_LIMIT) -> str:
    # The card stays short on a phone; the full text is in the details below it.
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def build_summary(
    brief: ApprovalBrief, record: ApprovalRecord | None, approver: str | None, now: datetime
) -> Summary:
    """The card's facts for ``approver`` at ``now`` (``record`` gives votes and approvers when known).

    Parameters
    ----------
    brief : ApprovalBrief
        What is being approved.
    record : ApprovalRecord, optional
        The stored approval (votes, approvers, required approvals); None when only the brief is known.
    approver : str, optional
        Who is looking (left out of "who else may approve").
    now : datetime
        The current time (for the time left).
    """
    kind = subject_kind(brief)
    environment = environment_of(brief)
    risk = risk_of_brief(brief)
    if brief.deployment is not None:
        risk = f"{brief.deployment.risk_level} (score {brief.deployment.risk_score})"
    facts = [
        Fact("risk-level", "Risk", risk, f"risk-{risk.split(' ')[0]}"),
        Fact("time-left", "Expires", time_left(brief.expires_at, now)),
        Fact("votes", "Votes", _votes(record)),
    ]
    if approver:
        facts.append(Fact("approver", "You", approver))
    if record is not None:
        others = others_who_may_approve(record, approver)
        facts.append(
            Fact(
                "other-approvers",
                "Others",
                f"{human_list(others)} may also approve" if others else "nobody else",
            )
        )
    if brief.deployment is not None:
        deployment = brief.deployment
        facts.append(
            Fact("subject", "Deployment", f"{deployment.deployment_id}, by {deployment.requested_by}")
        )
    else:
        facts.append(
            Fact("subject", "Alarm", _clip(f"{brief.alarm_name} on {brief.resource}"), primary=False)
        )
        why = f"{brief.diagnosis_cause}: {brief.diagnosis_summary}"
        facts.append(Fact("why", "Why", f"{_clip(why)} ({brief.confidence:.0%} confidence)", primary=False))
    return Summary(
        banner=environment_label(brief),
        production=is_production(environment),
        headline=headline(brief),
        kind=kind,
        facts=facts,
    )
