"""Human approval of a plan: the pending request and the decisions on it."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from controlroom.contracts.base import Contract


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    DECIDED = "DECIDED"
    EXPIRED = "EXPIRED"


Verdict = Literal["approve", "reject"]


class ApprovalVote(Contract):
    approver: str = Field(..., min_length=1, max_length=254)
    verdict: Verdict
    comment: str = Field("", max_length=1000)
    decided_at: datetime
    plan_digest: str


class ApprovalRecord(Contract):
    """The approval as stored. The task token is stored beside it, never in this model."""

    approval_id: str = Field(..., pattern=r"^apr-[0-9a-f]{32}$")
    incident_id: str
    plan_digest: str
    approvers: list[str] = Field(default_factory=list)
    required_approvals: int = Field(1, ge=1)
    status: ApprovalStatus = ApprovalStatus.PENDING
    created_at: datetime
    expires_at: datetime
    votes: list[ApprovalVote] = Field(default_factory=list)
    outcome: Verdict | None = None
    delivery: Literal["pending", "sent", "not_waiting"] | None = Field(
        None,
        description="Whether the decision reached the waiting execution: pending (in the outbox, retried), "
        "sent, or not_waiting (the execution had stopped waiting). None while undecided.",
    )


class ApprovalRequested(Contract):
    """RequestApproval's output is never seen by the flow (it waits for the token); kept for the record."""

    approval_id: str
    expires_at: datetime
    notified: list[str]


class ApprovalOutcome(Contract):
    """What SendTaskSuccess hands back to the flow when the plan is approved."""

    approval_id: str
    verdict: Literal["approve"]
    approvers: list[str]
    plan_digest: str


class BriefAction(Contract):
    """One planned action as an approver sees it, with what the policy said about it."""

    action_id: str
    action_type: str
    target: str
    risk: str
    effect: str = Field("", description="The policy's effect for this action (allow, needs_approval, deny).")
    reasons: list[str] = Field(default_factory=list, description="Ids of the Cedar policies that decided.")
    rationale: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class DeploymentBrief(Contract):
    """The deployment part of a brief: the diff, the risk reasons and the canary plan."""

    deployment_id: str
    function_name: str
    alias: str
    stable_version: str
    candidate_version: str
    target_environment: str
    requested_by: str
    diff: list[str] = Field(default_factory=list, description="One line per changed field or env key set.")
    risk_level: str
    risk_score: int
    risk_reasons: list[str] = Field(default_factory=list)
    canary_plan: list[str] = Field(default_factory=list, description="One line per step, then promotion.")
    freeze_window: str = Field("", description="The change freeze in force (break-glass), if any.")


class ApprovalBrief(Contract):
    """What an approver is shown, stored beside the approval so the page renders without the flow state."""

    approval_id: str = Field(..., pattern=r"^apr-[0-9a-f]{32}$")
    incident_id: str
    environment: str
    alarm_name: str
    state_reason: str = ""
    fired_at: datetime
    resource: str
    diagnosis_cause: str
    diagnosis_summary: str
    confidence: float
    diagnosis_produced_by: str
    plan_summary: str
    plan_digest: str
    actions: list[BriefAction] = Field(default_factory=list)
    policy_outcome: str = ""
    policy_reason: str = ""
    changes: list[str] = Field(
        default_factory=list, description="Recent changes Evidence found, one line each."
    )
    missing_evidence: list[str] = Field(default_factory=list, description="Evidence that could not be read.")
    metrics: list[str] = Field(
        default_factory=list, description="Each metric Evidence read, with its latest and peak values."
    )
    log_lines: list[str] = Field(
        default_factory=list, description="Recent log lines Evidence read (untrusted text), one each."
    )
    expires_at: datetime
    deployment: DeploymentBrief | None = Field(None, description="Set when a deployment awaits approval.")
