"""The Policy agent: Cedar decides each action of the plan; no model is ever called here."""

from __future__ import annotations

from typing import Any

from controlroom import autonomy, aws
from controlroom.contracts import PolicyDecision
from controlroom.contracts.flow.policy import PolicyInput
from controlroom.metric_names import AUTONOMY_HALTED_DECISIONS, QUARANTINES
from controlroom.policy import TargetFacts, decide_plan, default_engine, halted_decision
from controlroom.policy.scope import PlanScope, in_scope, plan_scope
from controlroom.runtime import AgentContext, AgentSpec, emit
from controlroom.tools.target_tags import target_tags

# Parse and validate the policies at cold start: a broken policy file fails the init, loudly.
_ENGINE = default_engine()


def policy(request: PolicyInput, ctx: AgentContext) -> PolicyDecision:
    """Decide the plan under the kill switch, the autonomy mode and the Cedar policies.

    Parameters
    ----------
    request
        The flow state: plan, diagnosis (confidence, blamed resources, candidates), evidence and
        the incident (which together bound where the plan may act).
    ctx
        Settings supply ENVIRONMENT, AUTONOMY_MODE, AUTONOMY_PARAMETER, CONFIDENCE_THRESHOLD and
        SSM_DOCUMENT_ALLOWLIST.

    Returns
    -------
    PolicyDecision
        ``halted`` while the kill switch is on; otherwise per-action effects and the outcome the
        state machine routes on.
    """
    ctx.check_time()
    ctx.produced_by = "rules"
    with ctx.tool("autonomy.switch") as call:
        reading = autonomy.current(ctx.settings)
        call.summary = reading.detail
    confidence = request.diagnosis.confidence
    if reading.halted:
        emit.count(AUTONOMY_HALTED_DECISIONS)
        return halted_decision(
            request.plan,
            confidence=confidence,
            settings=ctx.settings,
            mode=reading.mode,
            detail=reading.detail,
        )
    scope = plan_scope(request.incident, request.diagnosis, request.evidence)
    targets = {action.action_id: _facts(action, scope, request, ctx) for action in request.plan.actions}
    decision = decide_plan(
        request.plan,
        targets=targets,
        confidence=confidence,
        settings=ctx.settings,
        engine=_ENGINE,
        mode=reading.mode,
    )
    if decision.outcome == "quarantine":
        emit.count(QUARANTINES)
    return decision


def _facts(action: Any, scope: PlanScope, request: PolicyInput, ctx: AgentContext) -> TargetFacts:
    bound = in_scope(action, scope)
    incident = request.incident
    with ctx.tool(f"target_tags.{action.action_id}") as call:
        tags = target_tags(action, scope, aws.client, incident.account, incident.region)
        call.summary = (
            f"{action.target}: {'in' if bound else 'NOT in'} the incident's scope ({scope.describe()}); "
            + (f"tags {sorted(tags.tags)}" if tags.read else tags.detail)
        )
    return TargetFacts(in_scope=bound, tags=tags.tags, tags_read=tags.read)


def _summarise(decision: PolicyDecision) -> str:
    effects = ", ".join(f"{d.action_id}={d.effect}" for d in decision.decisions)
    return f"{decision.outcome} ({decision.autonomy_mode.value} in {decision.environment}): {effects}"


POLICY = AgentSpec(
    name="policy",
    input_model=PolicyInput,
    output_model=PolicyDecision,
    logic=policy,
    summarise=_summarise,
    confidence_of=lambda decision: decision.confidence,
)
