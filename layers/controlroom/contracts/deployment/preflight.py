"""What Preflight found (the deployment every later step sees, its diff, risk and canary plan), and the part of the flow state every later step reads."""

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from controlroom.contracts.base import Contract, LenientInput


class CanaryStep(Contract):
    weight_percent: int = Field(..., ge=1, le=99, description="Share of the alias' traffic on the candidate.")
    bake_seconds: int = Field(..., ge=0, description="How long the step bakes before the guard decides.")


class CanaryPlan(Contract):
    steps: list[CanaryStep] = Field(..., min_length=1, max_length=10)
    max_extensions: int = Field(..., ge=0, description="Inconclusive bakes a step may add before escalating.")
    min_invocations: int = Field(..., ge=1, description="Per version and bake: fewer is inconclusive.")
    max_error_rate_delta: float = Field(..., ge=0.0, le=1.0)
    p99_ratio_limit: float = Field(..., ge=1.0)
    significance: float = Field(..., gt=0.0, lt=0.5, description="One-sided alpha of the error-rate test.")


class FieldChange(Contract):
    field: str
    stable: str
    candidate: str


class ManifestDiff(Contract):
    """What differs between the alias' current version and the candidate (environment values never shown)."""

    changes: list[FieldChange] = Field(default_factory=list)
    env_keys_added: list[str] = Field(default_factory=list)
    env_keys_removed: list[str] = Field(default_factory=list)
    env_keys_changed: list[str] = Field(default_factory=list)

    @property
    def changed_fields(self) -> list[str]:
        return [change.field for change in self.changes]


class RiskAssessment(Contract):
    score: int = Field(..., ge=0)
    level: Literal["low", "medium", "high"]
    reasons: list[str] = Field(default_factory=list)


class FreezeStatus(Contract):
    active: bool
    window: str = ""


class DeploymentRef(Contract):
    """The deployment as every later step sees it."""

    deployment_id: str = Field(..., pattern=r"^dep-[0-9a-f]{16}$")
    function_name: str
    function_arn: str
    alias: str
    stable_version: str
    candidate_version: str
    environment: str
    target_environment: str = Field(..., description="The stack's environment, or the function's tag.")
    requested_by: str
    requested_at: datetime
    deadline_at: datetime
    break_glass: bool = False
    tags: dict[str, str] = Field(default_factory=dict)


class PreflightResult(Contract):
    outcome: Literal["ready", "refused"]
    reason: str
    deployment: DeploymentRef | None = None
    checksum_verified: bool = False
    diff: ManifestDiff = Field(default_factory=ManifestDiff)
    freeze: FreezeStatus = Field(default_factory=lambda: FreezeStatus(active=False))
    risk: RiskAssessment | None = None
    canary: CanaryPlan | None = None
    plan_digest: str = ""

    @model_validator(mode="after")
    def _ready_is_complete(self) -> Self:
        if self.outcome == "ready" and (self.deployment is None or self.risk is None or self.canary is None):
            raise ValueError("a ready preflight names the deployment, its risk and its canary plan")
        return self


class PreflightInput(LenientInput):
    request: dict[str, Any]
    execution_arn: str | None = None


class DeployControl(LenientInput):
    step: int = Field(0, ge=0)
    extensions: int = Field(0, ge=0)
    handoffs: int = Field(0, ge=0)


class _DeploymentInput(LenientInput):
    preflight: PreflightResult
    control: DeployControl = Field(default_factory=DeployControl)

    @property
    def deployment(self) -> DeploymentRef:
        if self.preflight.deployment is None:
            raise ValueError("the flow state has no deployment (preflight refused it)")
        return self.preflight.deployment
