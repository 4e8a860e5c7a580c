"""The model path of Diagnose and Plan: port, adapters, budgets, breaker, redaction, record and replay.

Importing this package never imports ``anthropic``; only constructing an Anthropic or Bedrock
adapter does. Agents call ``diagnose_with_model`` / ``plan_with_model`` with their fallback. Names
are exported lazily, so Diagnose loads the plan's contracts no more than Plan loads the ranking.
"""

from typing import TYPE_CHECKING

from controlroom.lazy import lazy_exports

if TYPE_CHECKING:
    from controlroom.llm.decisions import decide, with_notes
    from controlroom.llm.diagnose import diagnose_with_model
    from controlroom.llm.factory import model_deps, override_model_client
    from controlroom.llm.plan import plan_with_model
    from controlroom.llm.port import ModelClient, ModelReply, ModelRequest, ToolSpec
    from controlroom.llm.scripted import ScriptedModel
    from controlroom.llm.structured import FallbackRequired, ModelDeps

_SUBMODULE = {
    "FallbackRequired": "structured",
    "ModelClient": "port",
    "ModelDeps": "structured",
    "ModelReply": "port",
    "ModelRequest": "port",
    "ScriptedModel": "scripted",
    "ToolSpec": "port",
    "decide": "decisions",
    "diagnose_with_model": "diagnose",
    "model_deps": "factory",
    "override_model_client": "factory",
    "plan_with_model": "plan",
    "with_notes": "decisions",
}

__all__ = [
    "FallbackRequired",
    "ModelClient",
    "ModelDeps",
    "ModelReply",
    "ModelRequest",
    "ScriptedModel",
    "ToolSpec",
    "decide",
    "diagnose_with_model",
    "model_deps",
    "override_model_client",
    "plan_with_model",
    "with_notes",
]

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE, globals(), __all__)
