"""Close's view of the flow state: the outcome and whatever the flow got to (plan, policy, execution, verify)."""

from typing import Literal

from controlroom.contracts.execution import ExecutionReport, VerifyResult
from controlroom.contracts.flow.base import FlowError, _IncidentInput
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision


class CloseInput(_IncidentInput):
    outcome: Literal["resolved", "rejected"]
    plan: Plan | None = None
    policy: PolicyDecision | None = None
    execution: ExecutionReport | None = None
    verify: VerifyResult | None = None
    error: FlowError | None = None
