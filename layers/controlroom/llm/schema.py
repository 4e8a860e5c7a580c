"""Tool definitions derived from the pydantic contracts, so the model is asked for exactly what is validated."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from controlroom.llm.port import ToolSpec

_REF_PREFIX = "#/$defs/"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace every local ``$ref`` by a copy of its definition (recursively)."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        target = copy.deepcopy(defs[ref[len(_REF_PREFIX) :]])
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline({**target, **siblings}, defs)
    inlined = {
        key: _inline(value, defs) for key, value in node.items() if key not in {"$defs", "discriminator"}
    }
    _require_constants(inlined)
    return inlined


def _require_constants(node: dict[str, Any]) -> None:
    # A union member's "type" has a default in pydantic, but the model must always say which member it means.
    properties = node.get("properties")
    if not isinstance(properties, dict):
        return
    constants = [name for name, spec in properties.items() if isinstance(spec, dict) and "const" in spec]
    if constants:
        node["required"] = [
            *node.get("required", []),
            *(c for c in constants if c not in node.get("required", [])),
        ]


def inline_schema(contract: type[BaseModel]) -> dict[str, Any]:
    """The contract's JSON Schema (validation mode) with ``$defs`` inlined and OpenAPI-only keys removed."""
    schema = contract.model_json_schema(mode="validation")
    return _inline(schema, schema.get("$defs", {}))  # type: ignore[no-any-return]


def tool_for(
    contract: type[BaseModel], *, name: str, description: str, omit: frozenset[str] = frozenset()
) -> ToolSpec:
    """A tool whose input schema is ``contract``'s schema minus the fields controlroom fills in itself.

    Parameters
    ----------
    contract:
        The pydantic model the tool input is validated against (after the omitted fields are added).
    name, description:
        What the model sees.
    omit:
        Fields the model must not choose (``produced_by``, ``incident_id``).
    """
    schema = inline_schema(contract)
    schema["properties"] = {key: value for key, value in schema["properties"].items() if key not in omit}
    schema["required"] = [key for key in schema.get("required", []) if key not in omit]
    schema.pop("title", None)
    return ToolSpec(name=name, description=description, input_schema=schema)
