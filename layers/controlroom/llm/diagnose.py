"""Diagnose's model decision: ranked candidates and evidence in, a validated Diagnosis or the fallback out."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from controlroom.agents.diagnose_graph import ranked_candidates
from controlroom.contracts.diagnosis import Diagnosis
from controlroom.contracts.flow.diagnose import DiagnoseInput
from controlroom.contracts.graph import Candidate
from controlroom.contracts.incident import IncidentRef
from controlroom.llm.decisions import decide, evidence_payload, run_structured, user_message
from controlroom.llm.port import ToolSpec
from controlroom.llm.prompting import load_prompt
from controlroom.llm.schema import tool_for
from controlroom.llm.structured import ModelDeps, StructuredTask
from controlroom.runtime.context import AgentContext

MODEL_CANDIDATES = 5  # the top candidates the model sees, with their signals and evidence refs


# The tool's JSON Schema is built on the first model call, not at import: building it builds the
# Diagnosis validator, a cold-start cost a function without a model provider never needs.
@cache
def diagnose_tool() -> ToolSpec:
    """The record_diagnosis tool (Diagnosis minus produced_by and the candidates, which rules supply)."""
    return tool_for(
        Diagnosis,
        name="record_diagnosis",
        omit=frozenset({"produced_by", "candidates"}),
        description="Record the ranked hypotheses about the incident's cause; each blames one of the candidates.",
    )


def diagnosis_task(request: DiagnoseInput, ctx: AgentContext) -> StructuredTask[Diagnosis]:
    """The Diagnose decision as a structured task (prompt diagnose.v1, tool record_diagnosis)."""
    known_refs = request.evidence.refs
    candidates = ranked_candidates(request.incident, request.evidence)[:MODEL_CANDIDATES]

    def finalize(tool_input: dict[str, Any]) -> Diagnosis:
        diagnosis = Diagnosis.model_validate(
            {
                **tool_input,
                "produced_by": "llm",
                "candidates": [c.model_dump(mode="json") for c in candidates],
            }
        )
        cited = {
            ref for h in diagnosis.hypotheses for ref in [*h.evidence_refs, *filter(None, [h.change_ref])]
        }
        unknown = sorted(cited - known_refs)
        if unknown:
            raise ValueError(f"cited references that are not in the evidence: {unknown[:5]}")
        outside = blamed_outside(diagnosis, request.incident, candidates)
        if outside:
            raise ValueError(f"blamed resources that are not candidates: {outside[:5]}")
        return diagnosis

    tool = diagnose_tool()
    payload = evidence_payload(request.incident, request.evidence)
    payload["candidates"] = [candidate.model_dump(mode="json") for candidate in candidates]
    message = user_message(payload, ctx, tool.name)
    return StructuredTask("diagnose", load_prompt("diagnose"), tool, message, finalize)


def blamed_outside(diagnosis: Diagnosis, incident: IncidentRef, candidates: list[Candidate]) -> list[str]:
    """Blamed resources that are neither a ranked candidate nor the alarmed resource (the model may only
    re-order and explain the candidates, as it may only choose actions from the catalog)."""
    allowed_nodes = {c.node_id for c in candidates}
    allowed_names = {(c.kind, c.name) for c in candidates} | {
        (incident.resource.kind, incident.resource.name)
    }
    outside = []
    for hypothesis in diagnosis.hypotheses:
        blamed = hypothesis.blamed
        if blamed is None:
            continue
        known = (
            blamed.node_id in allowed_nodes if blamed.node_id else (blamed.kind, blamed.name) in allowed_names
        )
        if not known:
            outside.append(blamed.node_id or f"{blamed.kind}:{blamed.name}")
    return outside


def diagnose_with_model(
    request: DiagnoseInput,
    ctx: AgentContext,
    fallback: Callable[[DiagnoseInput], Diagnosis],
    *,
    deps: ModelDeps | None = None,
) -> Diagnosis:
    """Diagnose with the model when configured and healthy, else with ``fallback(request)``."""
    return decide(
        ctx,
        "diagnose",
        lambda d: run_structured(d, ctx, "diagnose", request, diagnosis_task),
        lambda: fallback(request),
        deps=deps,
    )
