"""What the Cedar policy decided for a plan, per action and overall."""

from enum import StrEnum
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract


class AutonomyMode(StrEnum):
    SHADOW = "shadow"  # everything runs as a dry run
    ADVICE = "advice"  # nothing runs; the plan goes to a human as advice
    SUPERVISED = "supervised"  # low risk runs, the rest needs approval
    GATED = "gated"  # every change needs approval


Effect = Literal["allow", "needs_approval", "deny"]
Outcome = Literal["auto", "approval", "deny", "quarantine", "halted"]


class ActionDecision(Contract):
    action_id: str
    action_type: str
    risk: str
    effect: Effect
    reasons: list[str] = Field(default_factory=list, description="Ids of the Cedar policies that decided.")


class PolicyDecision(Contract):
    outcome: Outcome
    environment: str
    autonomy_mode: AutonomyMode
    dry_run: bool = Field(..., description="True in shadow mode: Execute changes nothing.")
    plan_digest: str
    confidence: float
    reason: str
    decisions: list[ActionDecision] = Field(default_factory=list)
