"""The Policy agent: Cedar decides each action of the plan; no model is ever called here."""

from __future__ import annotations

from controlroom.contracts import PolicyDecision
from controlroom.contracts.flow import PolicyInput
from controlroom.metric_names import QUARANTINES
from controlroom.policy import decide_plan, default_engine
from controlroom.runtime import AgentContext, AgentSpec, emit

# Parse and validate the policies at cold start: a broken policy file fails the init, loudly.
_ENGINE = default_engine()


def policy(request: PolicyInput, ctx: AgentContext) -> PolicyDecision:
    """Decide the plan under the environment's autonomy mode and the Cedar policies.

    Parameters
    ----------
    request
        The flow state: plan, diagnosis (for confidence) and evidence (for the resource's tags).
    ctx
        Settings supply ENVIRONMENT, AUTONOMY_MODE, CONFIDENCE_THRESHOLD and SSM_DOCUMENT_ALLOWLIST.

    Returns
    -------
    PolicyDecision
        Per-action effects and the overall outcome the state machine routes on.
    """
    ctx.check_time()
    ctx.produced_by = "rules"
    decision = decide_plan(
        request.plan,
        tags=request.evidence.resource_tags,
        confidence=request.diagnosis.confidence,
        settings=ctx.settings,
        engine=_ENGINE,
    )
    if decision.outcome == "quarantine":
        emit.count(QUARANTINES)
    return decision


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
