"""Each agent's view of the state document the state machine carries from step to step.

The ASL passes the whole state to every agent; each input model names the parts that agent may
read, so anything else is left out by construction (and listed as such in its decision record).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controlroom.contracts.approval import ApprovalOutcome
from controlroom.contracts.base import LenientInput
from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.execution import ExecutionReport, VerifyResult
from controlroom.contracts.incident import IncidentRef, IntakeResult
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision

FLOW_PARTS = (
    "event",
    "intake",
    "evidence",
    "diagnosis",
    "plan",
    "policy",
    "approval",
    "execution",
    "verify",
    "control",
    "error",
)


class FlowControl(LenientInput):
    handoffs: int = Field(0, ge=0)
    verify_attempts: int = Field(0, ge=0)


class FlowError(LenientInput):
    """What a Catch put under $.error: the error name and its cause text."""

    error: str | None = Field("", alias="Error")
    # SendTaskFailure's cause can be absent (and moto 5.2.5 drops it): never reject a Catch result for that.
    cause: str | None = Field("", alias="Cause")


class _IncidentInput(LenientInput):
    intake: IntakeResult
    control: FlowControl = Field(default_factory=FlowControl)

    @property
    def incident(self) -> IncidentRef:
        if self.intake.incident is None:
            raise ValueError("the flow state has no open incident")
        return self.intake.incident


class IntakeInput(LenientInput):
    # Any JSON: a non-object event must reach Intake's logic, which keeps it verbatim before rejecting it.
    event: Any = None
    execution_arn: str | None = None
    control: FlowControl = Field(default_factory=FlowControl)


class EvidenceInput(_IncidentInput):
    pass


class DiagnoseInput(_IncidentInput):
    evidence: EvidenceBundle


class PlanInput(_IncidentInput):
    evidence: EvidenceBundle
    diagnosis: Diagnosis


class PolicyInput(_IncidentInput):
    evidence: EvidenceBundle
    diagnosis: Diagnosis
    plan: Plan


class RequestApprovalInput(_IncidentInput):
    task_token: str = Field(..., min_length=1, repr=False)
    evidence: EvidenceBundle
    diagnosis: Diagnosis
    plan: Plan
    policy: PolicyDecision


class ExecuteInput(_IncidentInput):
    plan: Plan
    policy: PolicyDecision
    approval: ApprovalOutcome | None = None


class VerifyInput(_IncidentInput):
    execution: ExecutionReport


class CloseInput(_IncidentInput):
    outcome: Literal["resolved", "rejected"]
    plan: Plan | None = None
    policy: PolicyDecision | None = None
    execution: ExecutionReport | None = None
    verify: VerifyResult | None = None
    error: FlowError | None = None


class EscalateInput(LenientInput):
    """Escalate must work from any point, so every part is optional."""

    reason: Literal[
        "error",
        "policy_deny",
        "quarantine",
        "not_recovered",
        "approval_timeout",
        "handoff_limit",
        "shadow_mode",
        "halted",
    ]
    intake: IntakeResult | None = None
    diagnosis: Diagnosis | None = None
    plan: Plan | None = None
    policy: PolicyDecision | None = None
    execution: ExecutionReport | None = None
    verify: VerifyResult | None = None
    error: FlowError | None = None
    control: FlowControl = Field(default_factory=FlowControl)
