"""What the Cedar policy decided for a plan, per action and overall."""

from typing import Literal

from pydantic import Field

from controlroom.contracts.autonomy_mode import AutonomyMode
from controlroom.contracts.base import Contract

__all__ = ["ActionDecision", "AutonomyMode", "Effect", "Outcome", "PolicyDecision"]

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
