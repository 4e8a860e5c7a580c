"""The model path of Diagnose and Plan: port, adapters, budgets, breaker, redaction, record and replay.

Importing this package never imports ``anthropic``; only constructing an Anthropic or Bedrock
adapter does. Agents call ``diagnose_with_model`` / ``plan_with_model`` with their fallback.
"""

from controlroom.llm.decisions import decide, diagnose_with_model, plan_with_model, with_notes
from controlroom.llm.factory import model_deps, override_model_client
from controlroom.llm.port import ModelClient, ModelReply, ModelRequest, ToolSpec
from controlroom.llm.scripted import ScriptedModel
from controlroom.llm.structured import FallbackRequired, ModelDeps

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
