"""What Execute did, per action, and what Verify and Close observed."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract
from controlroom.contracts.incident import IncidentStatus


class ActionResult(Contract):
    action_id: str
    action_type: str
    status: Literal["succeeded", "dry_run", "skipped", "failed"]
    detail: str
    before: dict[str, str] = Field(default_factory=dict)
    after: dict[str, str] = Field(default_factory=dict)


class ExecutionReport(Contract):
    dry_run: bool
    plan_digest: str
    results: list[ActionResult]
    executed_at: datetime


class VerifyResult(Contract):
    recovered: bool
    alarm_state: str
    checked_at: datetime
    detail: str
    breaching_datapoints: int = 0


class CloseResult(Contract):
    incident_id: str
    status: IncidentStatus
    summary: str
    notified: bool
    closed_at: datetime


class EscalationResult(Contract):
    """What Escalate did: the incident's final status (if there was one) and whom it told."""

    incident_id: str | None = Field(
        None, description="None when the flow failed before an incident was opened."
    )
    status: IncidentStatus | None = Field(
        None, description="ESCALATED, QUARANTINED, or None without an incident."
    )
    reason: str = Field(..., description="Why the flow escalated (the state machine's $.reason).")
    summary: str
    notified: bool
    expired_approvals: list[str] = Field(
        default_factory=list, description="Approvals expired by this escalation."
    )
    escalated_at: datetime
