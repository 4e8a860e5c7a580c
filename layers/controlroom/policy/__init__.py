"""Cedar policies (the *.cedar files beside this module) and the engine that evaluates them."""

from controlroom.policy.decide import TargetFacts, decide_plan, halted_decision
from controlroom.policy.engine import (
    ActionQuery,
    PolicyEngine,
    Verdict,
    default_engine,
    load_engine,
)

__all__ = [
    "ActionQuery",
    "PolicyEngine",
    "TargetFacts",
    "Verdict",
    "decide_plan",
    "default_engine",
    "halted_decision",
    "load_engine",
]
