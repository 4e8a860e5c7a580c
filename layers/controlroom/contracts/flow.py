"""Each agent's view of the state document the state machine carries from step to step.

The ASL passes the whole state to every agent; each input model names the parts that agent may
read, so anything else is left out by construction (and listed as such in its decision record).
The shared parts, and the inputs of Intake, Evidence and Verify, are in ``flow_base`` (re-exported here).
"""

from typing import Literal

from pydantic import Field

from controlroom.contracts.approval import ApprovalOutcome
from controlroom.contracts.base import LenientInput
from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.execution import ExecutionReport, VerifyResult
from controlroom.contracts.flow_base import (
    FLOW_PARTS,
    EvidenceInput,
    FlowControl,
    FlowError,
    IntakeInput,
    VerifyInput,
    _IncidentInput,
)
from controlroom.contracts.incident import IntakeResult
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision

__all__ = [
    "FLOW_PARTS",
    "CloseInput",
    "DiagnoseInput",
    "EscalateInput",
    "EvidenceInput",
    "ExecuteInput",
    "FlowControl",
    "FlowError",
    "IntakeInput",
    "PlanInput",
    "PolicyInput",
    "RequestApprovalInput",
    "VerifyInput",
]


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
