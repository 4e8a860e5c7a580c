"""The deployment Policy agent: Cedar decides allow, needs approval or deny for action ``deploy``."""

from __future__ import annotations

from controlroom.contracts import AutonomyMode
from controlroom.contracts.deployment import DeployPolicyDecision, DeployPolicyInput
from controlroom.policy import ActionQuery, PolicyEngine, default_engine
from controlroom.runtime import AgentContext, AgentSpec
from controlroom.settings import Settings

DEPLOY_ACTION = "deploy"
_OUTCOMES = {"allow": "auto", "needs_approval": "approval", "deny": "deny"}


def decide_deployment(
    request: DeployPolicyInput, settings: Settings, engine: PolicyEngine
) -> DeployPolicyDecision:
    """Ask Cedar about one deployment from its environment, risk, freeze status and autonomy mode.

    Returns
    -------
    DeployPolicyDecision
        ``auto``, ``approval`` (with the approvals needed: break-glass in a freeze needs
        ``BREAK_GLASS_APPROVALS``, capped by the number of approvers) or ``deny``.
    """
    deployment = request.deployment
    preflight = request.preflight
    assert preflight.risk is not None  # a ready preflight always has one (contract)
    verdict = engine.decide(
        ActionQuery(
            environment=settings.ENVIRONMENT,
            autonomy_mode=settings.AUTONOMY_MODE.value,
            action_type=DEPLOY_ACTION,
            risk=preflight.risk.level,
            target=deployment.function_arn,
            confidence=1.0,
            tags=deployment.tags,
            in_freeze=preflight.freeze.active,
            break_glass=deployment.break_glass,
        )
    )
    approvers = max(1, len(settings.approvers))
    required = (
        min(settings.BREAK_GLASS_APPROVALS, approvers)
        if preflight.freeze.active
        else settings.REQUIRED_APPROVALS
    )
    freeze = f"; change freeze {preflight.freeze.window!r} is on" if preflight.freeze.active else ""
    return DeployPolicyDecision(
        outcome=_OUTCOMES[verdict.effect],  # type: ignore[arg-type]
        environment=settings.ENVIRONMENT,
        autonomy_mode=settings.AUTONOMY_MODE,
        dry_run=settings.AUTONOMY_MODE is AutonomyMode.SHADOW,
        effect=verdict.effect,
        reasons=verdict.reasons,
        required_approvals=required,
        plan_digest=preflight.plan_digest,
        reason=(
            f"{verdict.effect} by {', '.join(verdict.reasons)}: {preflight.risk.level} risk deployment to "
            f"{deployment.target_environment} in {settings.AUTONOMY_MODE.value} mode{freeze}"
        ),
    )


def deploy_policy(request: DeployPolicyInput, ctx: AgentContext) -> DeployPolicyDecision:
    ctx.check_time()
    return decide_deployment(request, ctx.settings, default_engine())


DEPLOY_POLICY = AgentSpec(
    name="deploy_policy",
    input_model=DeployPolicyInput,
    output_model=DeployPolicyDecision,
    logic=deploy_policy,
    summarise=lambda out: f"{out.outcome}: {out.reason}",
)
