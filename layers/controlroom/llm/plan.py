"""Plan's model decision: evidence and diagnosis in, a validated catalog-only Plan or the fallback out."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from controlroom.contracts.actions import CATALOG, RunSsmAutomation
from controlroom.contracts.flow.plan import PlanInput
from controlroom.contracts.plan import Plan
from controlroom.llm.decisions import decide, evidence_payload, run_structured, user_message
from controlroom.llm.port import ToolSpec
from controlroom.llm.prompting import load_prompt
from controlroom.llm.schema import tool_for
from controlroom.llm.structured import ModelDeps, StructuredTask
from controlroom.runtime.context import AgentContext


# Built on the first model call, not at import (as llm.diagnose's tool): it builds the Plan validator.
@cache
def plan_tool() -> ToolSpec:
    """The propose_plan tool (Plan minus produced_by and incident_id)."""
    return tool_for(
        Plan,
        name="propose_plan",
        omit=frozenset({"produced_by", "incident_id"}),
        description="Propose remediation as typed actions from the action catalog.",
    )


def plan_task(request: PlanInput, ctx: AgentContext) -> StructuredTask[Plan]:
    """The Plan decision as a structured task (prompt plan.v1, tool propose_plan)."""
    causes = {h.cause for h in request.diagnosis.hypotheses}
    allowed_documents = set(ctx.settings.ssm_document_allowlist)

    def finalize(tool_input: dict[str, Any]) -> Plan:
        plan = Plan.model_validate(
            {**tool_input, "incident_id": request.incident.incident_id, "produced_by": "llm"}
        )
        if plan.based_on not in causes:
            raise ValueError(f"based_on must be one of the diagnosed causes {sorted(causes)}")
        for action in plan.actions:
            if isinstance(action, RunSsmAutomation) and action.document_name not in allowed_documents:
                raise ValueError(f"SSM document {action.document_name} is not in the allow-list")
        return plan

    payload = {
        **evidence_payload(request.incident, request.evidence),
        "diagnosis": request.diagnosis.model_dump(mode="json"),
        "constraints": {"action_types": sorted(CATALOG), "ssm_document_allowlist": sorted(allowed_documents)},
    }
    tool = plan_tool()
    message = user_message(payload, ctx, tool.name)
    return StructuredTask("plan", load_prompt("plan"), tool, message, finalize)


def plan_with_model(
    request: PlanInput,
    ctx: AgentContext,
    fallback: Callable[[PlanInput], Plan],
    *,
    deps: ModelDeps | None = None,
) -> Plan:
    """Plan with the model when configured and healthy, else with ``fallback(request)``."""
    return decide(
        ctx,
        "plan",
        lambda d: run_structured(d, ctx, "plan", request, plan_task),
        lambda: fallback(request),
        deps=deps,
    )
