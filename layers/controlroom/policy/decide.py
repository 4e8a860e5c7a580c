"""Turn per-action Cedar verdicts into the plan's PolicyDecision (auto, approval, deny, quarantine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controlroom.contracts import (
    ActionDecision,
    AutonomyMode,
    Plan,
    PolicyDecision,
    RunSsmAutomation,
    risk_of,
)
from controlroom.contracts.policy import Outcome
from controlroom.policy.engine import ActionQuery, PolicyEngine
from controlroom.settings import Settings


def decide_plan(
    plan: Plan, *, tags: Mapping[str, str], confidence: float, settings: Settings, engine: PolicyEngine
) -> PolicyDecision:
    """Decide every action of ``plan`` with Cedar, then the plan's overall outcome.

    Parameters
    ----------
    plan
        The typed plan; each action's risk is read from the catalog, never from the plan text.
    tags
        The incident resource's AWS tags (from Evidence). They are applied to every target of the
        plan, so a protected resource protects everything a plan would do about it.
    confidence
        The diagnosis' top confidence; below ``settings.CONFIDENCE_THRESHOLD`` the plan is quarantined.
    settings
        Supplies the environment, the autonomy mode, the threshold and the SSM allow-list.
    engine
        The loaded Cedar policies.

    Returns
    -------
    PolicyDecision
        Outcome ``quarantine`` (low confidence, whatever the actions), else ``deny`` if any action
        is denied, else ``approval`` if any needs approval, else ``auto``.
    """
    mode = settings.AUTONOMY_MODE
    decisions = [
        _decide_action(action, tags=tags, confidence=confidence, settings=settings, engine=engine)
        for action in plan.actions
    ]
    outcome, reason = _outcome(decisions, confidence, settings.CONFIDENCE_THRESHOLD)
    return PolicyDecision(
        outcome=outcome,
        environment=settings.ENVIRONMENT,
        autonomy_mode=mode,
        dry_run=mode is AutonomyMode.SHADOW,
        plan_digest=str(plan.plan_digest),
        confidence=confidence,
        reason=reason,
        decisions=decisions,
    )


def _decide_action(
    action: Any, *, tags: Mapping[str, str], confidence: float, settings: Settings, engine: PolicyEngine
) -> ActionDecision:
    action_type = str(action.type)
    risk = risk_of(action)
    query = ActionQuery(
        environment=settings.ENVIRONMENT,
        autonomy_mode=settings.AUTONOMY_MODE.value,
        action_type=action_type,
        risk=risk.value,
        target=str(action.target),
        confidence=confidence,
        tags=tags,
        ssm_document=action.document_name if isinstance(action, RunSsmAutomation) else "",
        ssm_document_allowlist=settings.ssm_document_allowlist,
    )
    verdict = engine.decide(query)
    return ActionDecision(
        action_id=action.action_id,
        action_type=action_type,
        risk=risk.value,
        effect=verdict.effect,
        reasons=verdict.reasons,
    )


def _outcome(decisions: list[ActionDecision], confidence: float, threshold: float) -> tuple[Outcome, str]:
    if confidence < threshold:
        return "quarantine", f"diagnosis confidence {confidence:.2f} is below the threshold {threshold:.2f}"
    denied = [d for d in decisions if d.effect == "deny"]
    if denied:
        return "deny", "denied: " + "; ".join(_describe(d) for d in denied)
    gated = [d for d in decisions if d.effect == "needs_approval"]
    if gated:
        return "approval", "needs approval: " + "; ".join(_describe(d) for d in gated)
    return "auto", "every action is allowed to run on its own: " + "; ".join(_describe(d) for d in decisions)


def _describe(decision: ActionDecision) -> str:
    return (
        f"{decision.action_id} {decision.action_type} ({decision.risk} risk) by {', '.join(decision.reasons)}"
    )
