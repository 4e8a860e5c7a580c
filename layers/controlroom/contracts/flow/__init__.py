"""Each agent's view of the state document the state machine carries from step to step.

The ASL passes the whole state to every agent; each input model names the parts that agent may
read, so anything else is left out by construction (and listed as such in its decision record).
Each input is in its own submodule (the shared parts in ``base``), and this package re-exports them
lazily: a handler that imports ``controlroom.contracts.flow.diagnose`` builds the evidence contracts
and not the plan, policy, approval or execution ones it never reads.
"""

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.contracts.flow.base import FLOW_PARTS, EvidenceInput, FlowControl, FlowError, IntakeInput
    from controlroom.contracts.flow.close import CloseInput
    from controlroom.contracts.flow.diagnose import DiagnoseInput
    from controlroom.contracts.flow.escalate import EscalateInput
    from controlroom.contracts.flow.execute import ExecuteInput
    from controlroom.contracts.flow.plan import PlanInput
    from controlroom.contracts.flow.policy import PolicyInput
    from controlroom.contracts.flow.request_approval import RequestApprovalInput
    from controlroom.contracts.flow.verify import VerifyInput

_SUBMODULE = {
    "FLOW_PARTS": "base",
    "CloseInput": "close",
    "DiagnoseInput": "diagnose",
    "EscalateInput": "escalate",
    "EvidenceInput": "base",
    "ExecuteInput": "execute",
    "FlowControl": "base",
    "FlowError": "base",
    "IntakeInput": "base",
    "PlanInput": "plan",
    "PolicyInput": "policy",
    "RequestApprovalInput": "request_approval",
    "VerifyInput": "verify",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
