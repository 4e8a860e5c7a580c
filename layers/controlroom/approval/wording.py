"""Words for approvers: the action in one sentence, the environment, policy ids, time left, what comes next."""

from __future__ import annotations

from datetime import datetime

from controlroom.contracts.approval import ApprovalBrief, BriefAction

_PRODUCTION = ("prod", "production")

# Every Cedar policy id in controlroom/policy/*.cedar, said in words (a test keeps the two in step).
POLICY_WORDS: dict[str, str] = {
    "shadow-dry-run-everything": "shadow mode: everything runs as a dry run and changes nothing",
    "advice-notify-only": "advice mode: only notifications go out on their own",
    "supervised-low-risk-auto": "supervised mode: no- and low-risk actions run on their own",
    "supervised-risky-needs-approval": "supervised mode: medium- and high-risk actions need a human",
    "gated-notify-only-auto": "gated mode: only notifications go out on their own",
    "gated-changes-need-approval": "gated mode: every change needs a human",
    "deploy-prod-needs-approval": "a production deployment never runs without a human",
    "deploy-prod-with-approval": "a production deployment may run once a human approves",
    "deploy-change-freeze": "a change freeze is in force: deployments are denied",
    "deploy-break-glass-never-auto": "break-glass in a freeze never runs on its own",
    "deploy-break-glass-with-approval": "break-glass in a freeze may run with enough approvals",
    "protected-target": "the target is tagged controlroom:protected and is never touched",
    "ssm-document-not-allowlisted": "the SSM document is not on the environment's allow-list",
    "prod-high-risk-never-auto": "in production a high-risk change never runs without a human",
    "target-not-bound-to-incident": "the target is not a resource this incident is about",
    "target-tags-unreadable": "the target's tags could not be read, so it may be protected",
}


EFFECT_WORDS = {"allow": "may run on its own", "needs_approval": "needs a human's approval", "deny": "denied"}


def effect_words(effect: str) -> str:
    """A policy effect in words (``needs_approval`` -> ``needs a human's approval``)."""
    return EFFECT_WORDS.get(effect, effect or "no policy decision")


def is_production(environment: str) -> bool:
    """True for an environment named like production (``prod``, ``production``, ``prod-eu``...)."""
    name = environment.strip().lower()
    return any(name == p or name.startswith(f"{p}-") or name.startswith(f"{p}_") for p in _PRODUCTION)


def environment_of(brief: ApprovalBrief) -> str:
    """The environment the change lands in: a deployment's target environment, else the incident's."""
    if brief.deployment is not None and brief.deployment.target_environment:
        return brief.deployment.target_environment
    return brief.environment


def environment_label(brief: ApprovalBrief) -> str:
    """The banner's word: ``PRODUCTION`` for prod, else the environment's name in capitals."""
    environment = environment_of(brief)
    return "PRODUCTION" if is_production(environment) else environment.upper()


def subject_kind(brief: ApprovalBrief) -> str:
    """``deployment`` or ``incident``: what the approval belongs to, for every sentence that names it."""
    return "deployment" if brief.deployment is not None else "incident"


def _param(action: BriefAction, name: str) -> str:
    return str(action.parameters.get(name, "?"))


def _short(name: str) -> str:
    # Task definition ARNs are long; "family:revision" is what people recognise.
    return name.rsplit("/", 1)[-1]


def action_sentence(action: BriefAction) -> str:
    """The action in one sentence with its target and from -> to, e.g. ``Roll back checkout alias live ...``."""
    kind = action.action_type
    if kind == "rollback_lambda_alias":
        return (
            f"Roll back {_param(action, 'function_name')} alias {_param(action, 'alias')} "
            f"from v{_param(action, 'from_version')} to v{_param(action, 'target_version')}"
        )
    if kind == "rollback_ecs_service":
        return (
            f"Roll back ECS service {_param(action, 'service')} in {_param(action, 'cluster')} from "
            f"{_short(_param(action, 'from_task_definition'))} to {_short(_param(action, 'target_task_definition'))}"
        )
    if kind == "stop_codedeploy_deployment":
        rollback = " and roll it back" if action.parameters.get("auto_rollback", True) else ""
        return f"Stop CodeDeploy deployment {_param(action, 'deployment_id')}{rollback}"
    if kind == "run_ssm_automation":
        return f"Run SSM Automation document {_param(action, 'document_name')}"
    if kind == "notify_only":
        return "Notify the on-call (changes nothing)"
    if kind == "deploy":
        name, alias = action.target.split(":", 1) if ":" in action.target else (action.target, "?")
        return (
            f"Deploy {name} alias {alias} from v{_param(action, 'stable_version')} "
            f"to v{_param(action, 'candidate_version')} as a canary"
        )
    return f"{kind} on {action.target}"


def _subject_phrase(action: BriefAction) -> str:
    """The action, short, for a mail subject: ``roll back checkout live v2 -> v1``."""
    kind = action.action_type
    if kind == "rollback_lambda_alias":
        return (
            f"roll back {_param(action, 'function_name')} {_param(action, 'alias')} "
            f"v{_param(action, 'from_version')} -> v{_param(action, 'target_version')}"
        )
    if kind == "deploy":
        name, alias = action.target.split(":", 1) if ":" in action.target else (action.target, "?")
        return f"deploy {name} {alias} v{_param(action, 'stable_version')} -> v{_param(action, 'candidate_version')}"
    sentence = action_sentence(action)
    return sentence[:1].lower() + sentence[1:]


def _awaiting(brief: ApprovalBrief) -> list[BriefAction]:
    # The actions the human is asked about; a plan whose effects are unknown shows all of them.
    asked = [a for a in brief.actions if a.effect == "needs_approval"]
    return asked or list(brief.actions)


def headline(brief: ApprovalBrief) -> str:
    """The approval in one sentence: the (first) action awaiting approval, and how many more."""
    asked = _awaiting(brief)
    if not asked:
        return brief.plan_summary or f"Approve the plan for {subject_kind(brief)} {brief.incident_id}"
    more = f" (and {len(asked) - 1} more action{'s' if len(asked) > 2 else ''})" if len(asked) > 1 else ""
    return action_sentence(asked[0]) + more


def subject_phrase(brief: ApprovalBrief) -> str:
    """The headline, short, for a mail subject."""
    asked = _awaiting(brief)
    if not asked:
        return f"{subject_kind(brief)} {brief.incident_id}"
    more = f" +{len(asked) - 1} more" if len(asked) > 1 else ""
    return _subject_phrase(asked[0]) + more


def risk_of_brief(brief: ApprovalBrief) -> str:
    """The highest risk among the actions awaiting approval (``deploy`` carries the preflight's level)."""
    order = ["none", "low", "medium", "high"]
    risks = [a.risk for a in _awaiting(brief)]
    known = [r for r in risks if r in order]
    if known:
        return max(known, key=order.index)
    return risks[0] if risks else "unknown"


def policy_words(reasons: list[str]) -> list[str]:
    """Cedar policy ids in words (an unknown id is shown as such, never dropped)."""
    return [POLICY_WORDS.get(reason, f"policy {reason}") for reason in reasons]


def clock(moment: datetime) -> str:
    """``03:42 UTC``: the time of day an approver at 3 a.m. compares with their clock."""
    return f"{moment:%H:%M} UTC"


def time_left(expires_at: datetime, now: datetime) -> str:
    """How long the link still works, e.g. ``in 41 min, at 03:42 UTC``, or ``expired at 03:42 UTC``."""
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return f"expired at {clock(expires_at)}"
    if seconds < 60:
        left = f"{seconds} s"
    elif seconds < 3600:
        left = f"{seconds // 60} min"
    else:
        left = f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"in {left}, at {clock(expires_at)}"


def what_happens_next(brief: ApprovalBrief | None, outcome: str | None) -> str:
    """What the flow does after the decision, said for an incident or a deployment."""
    if brief is not None and brief.deployment is not None:
        deployment = brief.deployment
        if outcome == "approve":
            first = deployment.canary_plan[0] if deployment.canary_plan else "the first canary step"
            return (
                f"The deployment flow resumes: it shifts traffic to v{deployment.candidate_version} step by step "
                f"({first}) and promotes it if every SLO guard passes; otherwise it rolls back to "
                f"v{deployment.stable_version} and opens an incident."
            )
        return (
            f"Nothing is deployed: {deployment.function_name}:{deployment.alias} stays on "
            f"v{deployment.stable_version}. The deployment ends Rejected and its alias lock is released."
        )
    if outcome == "approve":
        action = headline(brief).rstrip(".") if brief is not None else "the approved plan"
        return (
            f"The incident flow resumes and Execute runs: {action}. Then Verify re-checks the alarm; "
            "the incident closes Resolved, or escalates to on-call if the alarm does not recover."
        )
    return (
        "Nothing is executed. The incident closes as Rejected and the on-call is notified to handle it "
        "by hand."
    )


def human_list(names: list[str]) -> str:
    """``a, b and c`` (``nobody`` for none)."""
    if not names:
        return "nobody"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def plural(count: int, word: str) -> str:
    """``1 approval``, ``2 approvals``."""
    return f"{count} {word}{'' if count == 1 else 's'}"
