"""A traffic shift (shift, promote, rollback) and what the shifter reads."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controlroom.contracts.approval import ApprovalOutcome
from controlroom.contracts.base import Contract
from controlroom.contracts.deployment.policy import DeployPolicyDecision
from controlroom.contracts.deployment.preflight import _DeploymentInput


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


class ShiftInput(_DeploymentInput):
    operation: Literal["shift", "promote", "rollback"]
    policy: DeployPolicyDecision
    approval: ApprovalOutcome | None = None
