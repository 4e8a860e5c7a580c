"""RequestApproval's view of the flow state: what an approver is shown, and the task token to wait on."""

from pydantic import Field

from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.evidence import EvidenceBundle
from controlroom.contracts.flow.base import _IncidentInput
from controlroom.contracts.plan import Plan
from controlroom.contracts.policy import PolicyDecision


class RequestApprovalInput(_IncidentInput):
    task_token: str = Field(..., min_length=1, repr=False)
    evidence: EvidenceBundle
    diagnosis: Diagnosis
    plan: Plan
    policy: PolicyDecision
