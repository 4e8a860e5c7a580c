"""Contracts of the deployment flow: the request, preflight, policy, traffic shifts, the SLO guard, the close."""

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from controlroom.contracts.approval import ApprovalOutcome
from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.contracts.base import Contract, LenientInput

DEPLOYMENT_REQUESTED = "controlroom.deployment.requested"
DEPLOYMENT_SOURCE = "controlroom"
# The deployment flow's agents (stepfunctions/deployment.asl.json), in the order it invokes them: the CDK app,
# its permissions table and the benchmarks all read this one list.
DEPLOYMENT_AGENTS = (
    "deploy_preflight",
    "deploy_policy",
    "deploy_approval",
    "traffic_shifter",
    "slo_guard",
    "deploy_close",
)
_SHA256_B64 = r"^[A-Za-z0-9+/]{43}=$"


class DeploymentRequest(Contract):
    """What someone asks for: move ``alias`` of ``function_name`` to ``candidate_version``."""

    function_name: str = Field(
        ..., min_length=1, max_length=140, pattern=r"^[A-Za-z0-9_:.-]+$", examples=["orders-api"]
    )
    alias: str = Field(..., min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", examples=["live"])
    candidate_version: str = Field(..., pattern=r"^[0-9]+$", description="A published version number.")
    artifact_sha256: str | None = Field(
        None,
        pattern=_SHA256_B64,
        description="Expected CodeSha256 of the candidate (base64, as Lambda reports it); None = not checked.",
    )
    requested_by: str = Field("unknown", min_length=1, max_length=254)
    break_glass: bool = Field(
        False, description="Ask to deploy during a freeze window (needs N of M approvals)."
    )


class DeploymentRequestedEvent(LenientInput):
    """The EventBridge event ``controlroom.deployment.requested``; its detail is the request."""

    detail_type: Literal["controlroom.deployment.requested"] = Field(..., alias="detail-type")
    source: str
    detail: DeploymentRequest


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


class ShiftResult(Contract):
    operation: Literal["shift", "promote", "rollback"]
    step: int = Field(..., ge=0)
    weight_percent: int = Field(..., ge=0, le=100)
    bake_seconds: int = 0
    last_step: bool = False
    dry_run: bool = False
    already_applied: bool = Field(
        False, description="A retried call found the change made: nothing shifted twice."
    )
    alias_version: str
    routing: dict[str, float] = Field(default_factory=dict)
    verified: bool = False
    shifted_at: datetime


class VersionStats(Contract):
    version: str
    invocations: int = Field(..., ge=0)
    errors: int = Field(..., ge=0)
    throttles: int = Field(..., ge=0)
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0


class GuardVerdict(Contract):
    outcome: Literal["pass", "fail", "inconclusive"]
    reasons: list[str]
    stable: VersionStats
    canary: VersionStats
    z_score: float | None = None
    p_value: float | None = None
    p99_ratio: float | None = None
    alarms_in_alarm: list[str] = Field(default_factory=list)
    extensions_left: int = Field(
        ..., ge=0, description="Bakes this step may still add when inconclusive; 0 means escalate."
    )
    window_start: datetime
    window_end: datetime


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


class PreflightInput(LenientInput):
    request: dict[str, Any]
    execution_arn: str | None = None


class DeployPolicyInput(_DeploymentInput):
    pass


class DeployApprovalInput(_DeploymentInput):
    task_token: str = Field(..., min_length=1, repr=False)
    policy: DeployPolicyDecision


class ShiftInput(_DeploymentInput):
    operation: Literal["shift", "promote", "rollback"]
    policy: DeployPolicyDecision
    approval: ApprovalOutcome | None = None


class GuardInput(_DeploymentInput):
    shift: ShiftResult


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
