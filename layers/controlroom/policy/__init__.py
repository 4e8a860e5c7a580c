"""Cedar policies (the *.cedar files beside this module) and the engine that evaluates them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.policy.decide import TargetFacts, decide_plan, halted_decision
    from controlroom.policy.engine import (
        ActionQuery,
        PolicyEngine,
        Verdict,
        default_engine,
        load_engine,
    )

# Which submodule defines each public name. Importing the package imports neither: ``policy.scope`` (what
# Execute and Verify check a target against) needs no Cedar, and cedarpy is a fifth of a cold import.
_SUBMODULE = {
    "TargetFacts": "decide",
    "decide_plan": "decide",
    "halted_decision": "decide",
    "ActionQuery": "engine",
    "PolicyEngine": "engine",
    "Verdict": "engine",
    "default_engine": "engine",
    "load_engine": "engine",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
