"""How a deployment ended, and Close's view of the flow state (any part may be missing)."""

from typing import Any, Literal

from pydantic import Field

from controlroom.contracts.base import Contract, LenientInput
from controlroom.contracts.deployment.guard import GuardVerdict
from controlroom.contracts.deployment.policy import DeployPolicyDecision
from controlroom.contracts.deployment.preflight import DeployControl, DeploymentRef, PreflightResult
from controlroom.contracts.deployment.shift import ShiftResult


class DeployCloseInput(LenientInput):
    """Close must work from any point, so everything but the outcome is optional."""

    outcome: Literal["promoted", "rolled_back", "refused", "rejected", "denied", "escalated", "dry_run"]
    reason: str = ""
    preflight: PreflightResult | None = None
    policy: DeployPolicyDecision | None = None
    shift: ShiftResult | None = None
    guard: GuardVerdict | None = None
    rollback: ShiftResult | None = None
    error: dict[str, Any] | None = None
    control: DeployControl = Field(default_factory=DeployControl)

    @property
    def deployment(self) -> DeploymentRef | None:
        return self.preflight.deployment if self.preflight else None


class DeployCloseResult(Contract):
    deployment_id: str | None
    outcome: str
    status: str
    incident_execution_arn: str | None = None
    notified: bool = False
