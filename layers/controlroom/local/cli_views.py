"""The documents `controlroom --json` prints (incidents, approvals, fire, inbox), built from stored records.

Each model is the stable shape of one command's JSON: its field names are the keys, and a field is
added, never renamed or removed, so scripts keep working.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from controlroom.approval.wording import headline, risk_of_brief
from controlroom.contracts import ApprovalRecord, utcnow
from controlroom.contracts.approval import ApprovalBrief
from controlroom.store import IncidentItem


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class IncidentRow(_View):
    """One incident as `controlroom incidents` lists it."""

    incident_id: str
    status: str = Field(..., description="OPEN, AWAITING_APPROVAL, EXECUTING, RESOLVED, ESCALATED, ...")
    environment: str
    alarm_name: str
    resource: str = Field(..., description="kind:name[:qualifier], e.g. lambda:checkout-api:live")
    opened_at: datetime
    updated_at: datetime
    end_reason: str | None = Field(None, description="Why it ended (the closing summary); null while open.")
    execution_arn: str | None = None


class IncidentList(_View):
    """`controlroom incidents --json`: newest first."""

    status_filter: str | None = Field(None, description="The --status asked for, or null for all.")
    incidents: list[IncidentRow]


class ApprovalRow(_View):
    """One approval as `controlroom approvals` lists it."""

    approval_id: str
    incident_id: str
    environment: str | None = Field(None, description="null when the approval's brief is missing")
    alarm_name: str | None = None
    action: str | None = Field(
        None, description="The action awaiting approval in one sentence, as the approval page words it."
    )
    risk: str | None = Field(
        None, description="The highest risk among the actions awaiting approval: none, low, medium, high."
    )
    approvals: int = Field(..., description="Approve votes so far.")
    required_approvals: int
    approvers: list[str]
    expires_at: datetime
    seconds_left: int = Field(..., description="Until the links expire; 0 once expired.")
    expired: bool


class ApprovalList(_View):
    """`controlroom approvals --json`: pending approvals, soonest expiry first."""

    approvals: list[ApprovalRow]
    hidden_expired: int = Field(..., description="Pending approvals past their expiry not listed (--all).")


class FiredExecution(_View):
    """One execution an event started, and under --wait how it ended."""

    execution_arn: str
    incident_id: str | None = Field(None, description="The incident Intake opened; null if it opened none.")
    status: str | None = Field(
        None, description="The execution's status under --wait (SUCCEEDED, FAILED...)."
    )
    end_state: str | None = Field(None, description="The terminal state: Resolved, Escalated, Rejected, ...")
    reason: str | None = Field(None, description="Why it ended there: the incident's summary, or the error.")


class FireResult(_View):
    """`controlroom fire --json`."""

    event_file: str
    waited: bool
    executions: list[FiredExecution]
    duplicate_of: str | None = Field(
        None, description="The open incident the alarm folded into when it started no execution."
    )


class InboxEmailView(_View):
    to: list[str]
    subject: str
    links: list[str]


class Inbox(_View):
    """`controlroom inbox --json`: the approval emails the local engine sent, oldest first."""

    emails: list[InboxEmailView]


def incident_row(item: IncidentItem) -> IncidentRow:
    incident = item.incident
    resource = f"{incident.resource.kind}:{incident.resource.name}"
    if incident.resource.qualifier:
        resource += f":{incident.resource.qualifier}"
    return IncidentRow(
        incident_id=incident.incident_id,
        status=item.status.value,
        environment=incident.environment,
        alarm_name=incident.alarm.alarm_name,
        resource=resource,
        opened_at=incident.opened_at,
        updated_at=datetime.fromisoformat(item.updated_at),
        end_reason=(item.summary or None) if item.status.is_terminal else None,
        execution_arn=item.execution_arn,
    )


def approval_row(
    record: ApprovalRecord, brief: ApprovalBrief | None, now: datetime | None = None
) -> ApprovalRow:
    now = now or utcnow()
    left = max(0, int((record.expires_at - now).total_seconds()))
    return ApprovalRow(
        approval_id=record.approval_id,
        incident_id=record.incident_id,
        environment=brief.environment if brief else None,
        alarm_name=brief.alarm_name if brief else None,
        # The approval page's and the email's own words, so the three never disagree.
        action=headline(brief) if brief else None,
        risk=risk_of_brief(brief) if brief and brief.actions else None,
        approvals=sum(vote.verdict == "approve" for vote in record.votes),
        required_approvals=record.required_approvals,
        approvers=list(record.approvers),
        expires_at=record.expires_at,
        seconds_left=left,
        expired=record.expires_at <= now,
    )
