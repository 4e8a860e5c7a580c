"""Escalate's view of the flow state: the reason, and every part the flow may or may not have reached."""

from typing import Literal

from pydantic import Field

from controlroom.contracts.base import LenientInput
from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.execution import ExecutionReport, VerifyResult
from controlroom.contracts.flow.base import FlowControl, FlowError
from controlroom.contracts.incident import IntakeResult
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision


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
