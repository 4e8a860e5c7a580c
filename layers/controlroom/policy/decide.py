"""Turn per-action Cedar verdicts into the plan's PolicyDecision (auto, approval, deny, quarantine)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class TargetFacts:
    """What Policy found out about one action's target before asking Cedar."""

    in_scope: bool
    tags: Mapping[str, str] = field(default_factory=dict)
    tags_read: bool = False


def decide_plan(
    plan: Plan,
    *,
    targets: Mapping[str, TargetFacts],
    confidence: float,
    settings: Settings,
    engine: PolicyEngine,
    mode: AutonomyMode | None = None,
) -> PolicyDecision:
    """Decide every action of ``plan`` with Cedar, then the plan's overall outcome.

    Parameters
    ----------
    plan
        The typed plan; each action's risk is read from the catalog, never from the plan text.
    targets
        Per action id: whether its target is bound to the incident, and the target's own tags. An
        action without an entry is treated as out of scope with unread tags (refused).
    confidence
        The diagnosis' top confidence; below ``settings.CONFIDENCE_THRESHOLD`` the plan is quarantined.
    settings
        Supplies the environment, the deploy-time autonomy mode, the threshold and the SSM allow-list.
    engine
        The loaded Cedar policies.
    mode
        The autonomy mode read from the kill switch at run time; ``settings.AUTONOMY_MODE`` if None.

    Returns
    -------
    PolicyDecision
        Outcome ``quarantine`` (low confidence, whatever the actions), else ``deny`` if any action
        is denied, else ``approval`` if any needs approval, else ``auto``.
    """
    mode = mode or settings.AUTONOMY_MODE
    unknown = TargetFacts(in_scope=False)
    decisions = [
        _decide_action(
            action,
            facts=targets.get(action.action_id, unknown),
            mode=mode,
            confidence=confidence,
            settings=settings,
            engine=engine,
        )
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


def halted_decision(
    plan: Plan, *, confidence: float, settings: Settings, mode: AutonomyMode, detail: str
) -> PolicyDecision:
    """The decision while the kill switch is on: nothing is asked of Cedar, nothing may run."""
    return PolicyDecision(
        outcome="halted",
        environment=settings.ENVIRONMENT,
        autonomy_mode=mode,
        dry_run=mode is AutonomyMode.SHADOW,
        plan_digest=str(plan.plan_digest),
        confidence=confidence,
        reason=f"the kill switch is on: {detail}",
        decisions=[
            ActionDecision(
                action_id=a.action_id,
                action_type=str(a.type),
                risk=risk_of(a).value,
                effect="deny",
                reasons=["kill-switch-halted"],
            )
            for a in plan.actions
        ],
    )


def _decide_action(
    action: Any,
    *,
    facts: TargetFacts,
    mode: AutonomyMode,
    confidence: float,
    settings: Settings,
    engine: PolicyEngine,
) -> ActionDecision:
    action_type = str(action.type)
    risk = risk_of(action)
    query = ActionQuery(
        environment=settings.ENVIRONMENT,
        autonomy_mode=mode.value,
        action_type=action_type,
        risk=risk.value,
        target=str(action.target),
        confidence=confidence,
        tags=facts.tags,
        ssm_document=action.document_name if isinstance(action, RunSsmAutomation) else "",
        ssm_document_allowlist=settings.ssm_document_allowlist,
        target_in_scope=facts.in_scope,
        target_tags_read=facts.tags_read,
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
