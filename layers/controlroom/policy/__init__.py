"""Cedar policies (the *.cedar files beside this module) and the engine that evaluates them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access (PEP 562) and cache the value here."""
    submodule = _SUBMODULE.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
