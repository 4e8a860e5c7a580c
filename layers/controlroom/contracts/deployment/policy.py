"""What the policy decided for a deployment, and the inputs of Policy and the approval request (which read no more)."""

from typing import Literal

from pydantic import Field

from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.contracts.base import Contract
from controlroom.contracts.deployment.preflight import _DeploymentInput


class DeployPolicyDecision(Contract):
    outcome: Literal["auto", "approval", "deny"]
    environment: str
    autonomy_mode: AutonomyMode
    dry_run: bool
    effect: Literal["allow", "needs_approval", "deny"]
    reasons: list[str] = Field(default_factory=list, description="Ids of the Cedar policies that decided.")
    required_approvals: int = Field(1, ge=1)
    plan_digest: str
    reason: str


class DeployPolicyInput(_DeploymentInput):
    pass


class DeployApprovalInput(_DeploymentInput):
    task_token: str = Field(..., min_length=1, repr=False)
    policy: DeployPolicyDecision
