"""Cedar policies (the *.cedar files beside this module) and the engine that evaluates them."""

from controlroom.policy.decide import decide_plan
from controlroom.policy.engine import (
    ActionQuery,
    PolicyEngine,
    Verdict,
    default_engine,
    load_engine,
)

__all__ = ["ActionQuery", "PolicyEngine", "Verdict", "decide_plan", "default_engine", "load_engine"]
