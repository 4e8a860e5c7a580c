"""Execute's view of the flow state: the plan, what the policy decided, and the approval if one was asked."""

from controlroom.contracts.approval import ApprovalOutcome
from controlroom.contracts.flow.base import _IncidentInput
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision


class ExecuteInput(_IncidentInput):
    plan: Plan
    policy: PolicyDecision
    approval: ApprovalOutcome | None = None
