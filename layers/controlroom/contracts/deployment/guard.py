"""The SLO guard's verdict on a bake: both versions' figures, the tests, and what the guard reads."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract
from controlroom.contracts.deployment.preflight import _DeploymentInput
from controlroom.contracts.deployment.shift import ShiftResult


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


class GuardInput(_DeploymentInput):
    shift: ShiftResult
