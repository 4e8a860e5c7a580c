"""What an approval's stored state means for the person looking at it: decided, waiting, expired, refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controlroom.approval.wording import clock, human_list, plural, subject_kind, what_happens_next
from controlroom.contracts import ApprovalRecord, ApprovalStatus
from controlroom.contracts.approval import ApprovalBrief
from controlroom.errors import (
    ApprovalForbidden,
    ApprovalNotFound,
    ApprovalPlanMismatch,
    TransientDependencyError,
)
from controlroom.store.approvals import voter_key


@dataclass(frozen=True)
class StateView:
    """One result or refusal page, in words: its HTTP status, title, message, facts and the next step."""

    status: int
    title: str
    message: str
    kind: str
    next_step: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    incident_id: str | None = None
    kind_of_subject: str = "incident"


def _kind(brief: ApprovalBrief | None, record: ApprovalRecord | None) -> str:
    if brief is not None:
        return subject_kind(brief)
    return "deployment" if record is not None and record.incident_id.startswith("dep-") else "incident"


def vote_facts(record: ApprovalRecord) -> list[tuple[str, str]]:
    """One fact per vote: who, what, when, and the comment."""
    facts = []
    for vote in record.votes:
        verb = "Approved" if vote.verdict == "approve" else "Rejected"
        comment = f": \u201c{vote.comment}\u201d" if vote.comment else " (no comment)"
        facts.append((verb, f"by {vote.approver} at {clock(vote.decided_at)}{comment}"))
    return facts


def others_who_may_approve(record: ApprovalRecord, approver: str | None) -> list[str]:
    """Approvers other than ``approver`` who have not voted yet."""
    voted = {voter_key(v.approver) for v in record.votes}
    me = voter_key(approver) if approver else None
    return [a for a in record.approvers if voter_key(a) not in voted and voter_key(a) != me]


def _deciders(record: ApprovalRecord) -> str:
    names = [v.approver for v in record.votes if v.verdict == record.outcome] or [
        v.approver for v in record.votes[-1:]
    ]
    return human_list(names)


def decided_view(
    record: ApprovalRecord, brief: ApprovalBrief | None, approver: str | None = None
) -> StateView:
    """The decided state (after this viewer's POST, or on a later visit), with what happens next."""
    kind = _kind(brief, record)
    verb = "approved" if record.outcome == "approve" else "rejected"

    def view(status: int, title: str, message: str, css: str, next_step: str) -> StateView:
        return StateView(status, title, message, css, next_step, vote_facts(record), record.incident_id, kind)

    if record.delivery == "pending":
        return view(
            202,
            "Decision recorded",
            f"The decision ({verb} by {_deciders(record)}) is recorded and is being delivered to the waiting "
            f"{kind} flow; it is retried automatically. Nothing more is needed from you.",
            "ok",
            what_happens_next(brief, record.outcome),
        )
    if record.delivery == "not_waiting":
        return view(
            410,
            "No longer waiting",
            f"The decision ({verb} by {_deciders(record)}) was recorded, but the {kind} flow is no longer "
            "waiting for it (it timed out or ended).",
            "warn",
            f"Nothing was executed for this approval. A timed-out {kind} was escalated to on-call: "
            "check with them before acting.",
        )
    title = "Approved" if record.outcome == "approve" else "Rejected"
    return view(
        200, title, f"{title} by {_deciders(record)}.", "ok", what_happens_next(brief, record.outcome)
    )


def vote_recorded_view(record: ApprovalRecord, brief: ApprovalBrief | None, approver: str) -> StateView:
    """This approver's vote counted, and the approval still waits for more approvals."""
    approvals = sum(1 for v in record.votes if v.verdict == "approve")
    missing = max(0, record.required_approvals - approvals)
    others = others_who_may_approve(record, approver)
    return StateView(
        200,
        "Vote recorded",
        f"Your approval is recorded; {missing} more approval(s) needed before "
        f"{'the canary starts' if _kind(brief, record) == 'deployment' else 'the plan runs'}.",
        "ok",
        f"Nothing runs until {plural(missing, 'more approval')} arrive; {human_list(others)} may still "
        f"approve before {clock(record.expires_at)}. If nobody does, the {_kind(brief, record)} escalates "
        "to on-call.",
        [*vote_facts(record), ("Approvals", f"{approvals} of {record.required_approvals}")],
        record.incident_id,
        _kind(brief, record),
    )


def undecided_view(record: ApprovalRecord) -> StateView:
    """A result link of someone who has not voted on a still-open approval: nothing to report yet."""
    return StateView(
        409,
        "Not decided yet",
        "Nothing has been decided on this request yet.",
        "warn",
        f"Open the link from your approval email to decide before {clock(record.expires_at)}.",
        vote_facts(record),
        record.incident_id,
        _kind(None, record),
    )


def already_view(record: ApprovalRecord, brief: ApprovalBrief | None, approver: str | None) -> StateView:
    """A vote or a visit after the decision, or a second vote by the same approver: 409, saying which."""
    kind = _kind(brief, record)
    if record.status is ApprovalStatus.DECIDED and record.votes:
        decided = decided_view(record, brief, approver)
        last = (
            record.votes[-1]
            if record.outcome == "approve"
            else next(v for v in record.votes if v.verdict == record.outcome)
        )
        verb = "approved" if record.outcome == "approve" else "rejected"
        message = (
            f"This request was already decided: {verb} by {_deciders(record)} at {clock(last.decided_at)}."
        )
        next_step = decided.next_step
    elif approver and any(voter_key(v.approver) == voter_key(approver) for v in record.votes):
        message = "You have already voted on this request; it is waiting for other approvers."
        others = others_who_may_approve(record, approver)
        next_step = f"{human_list(others)} may still approve before {clock(record.expires_at)}."
    else:
        message = "This request changed while you were deciding. Reload the page from your email link."
        next_step = "Open the link from your email again to see the current state."
    return StateView(
        409, "Already decided", message, "warn", next_step, vote_facts(record), record.incident_id, kind
    )


def expired_view(record: ApprovalRecord, brief: ApprovalBrief | None, now: datetime) -> StateView:
    """The truth about an expired link: decided anyway, escalated, or still waiting for the flow's timeout."""
    if record.status is ApprovalStatus.DECIDED:
        return already_view(record, brief, None)
    kind = _kind(brief, record)
    nothing = "nothing was deployed" if kind == "deployment" else "nothing was executed"
    if record.status is ApprovalStatus.EXPIRED:
        message = (
            f"This approval request expired at {clock(record.expires_at)} without a decision. "
            f"The {kind} was escalated to on-call; {nothing}."
        )
        next_step = f"The on-call owns the {kind} now: contact them if you want something done."
    elif now >= record.expires_at:
        message = (
            f"This approval request expired at {clock(record.expires_at)} without a decision. The {kind} is "
            "still pending: its flow waits out the approval timeout, then escalates to on-call."
        )
        next_step = f"Nobody can approve this request any more; {nothing}. Tell the on-call if it is urgent."
    else:
        message = f"Your link has expired, but the request remains open until {clock(record.expires_at)}."
        others = others_who_may_approve(record, None)
        next_step = f"Use the newest approval email, or ask another approver ({human_list(others)})."
    return StateView(
        410, "Expired", message, "error", next_step, vote_facts(record), record.incident_id, kind
    )


def refusal_view(
    status: int, title: str, message: str, next_step: str, record: ApprovalRecord | None = None
) -> StateView:
    """Any other refusal (bad link, unknown approval, plan changed, our failure), with the id when known."""
    incident_id = record.incident_id if record is not None else None
    return StateView(status, title, message, "error", next_step, [], incident_id, _kind(None, record))


_AGAIN = "Open the link from your approval email again."
# Refused request -> (status, page title, message, next step). Bad input is always 4xx; only our own failures are 5xx.
REFUSALS: list[tuple[type[Exception], int, str, str, str]] = [
    (
        ApprovalNotFound,
        404,
        "Not found",
        "There is no approval with this id. Nothing was decided.",
        "Check that the whole link was opened (mail apps sometimes cut long links). Approvals are removed "
        "some time after they end: ask the on-call about the incident.",
    ),
    (
        ApprovalForbidden,
        403,
        "Link not valid",
        "This link is not valid for this approval. Nothing was decided.",
        f"{_AGAIN} Each approver has their own link; a changed or forwarded link does not work.",
    ),
    (
        ApprovalPlanMismatch,
        409,
        "Plan changed",
        "The plan you saw is not the plan awaiting approval. Nothing was decided.",
        f"{_AGAIN} The page shows the plan that awaits approval now.",
    ),
    (
        ValueError,
        400,
        "Bad request",
        "The request could not be understood. Nothing was decided.",
        f"{_AGAIN} Then use the page's Approve or Reject button.",
    ),
    (
        TransientDependencyError,
        503,
        "Try again",
        "A dependency is unavailable; nothing was decided. Try again shortly.",
        "Reload this page in a minute. If nobody decides before the deadline, the flow escalates to on-call.",
    ),
]
FAILED = (
    "Something went wrong",
    "The approval service failed; nothing was decided.",
    "Try again in a minute. If it keeps failing, tell the on-call: the flow escalates to them when the "
    "approval times out.",
)
