"""Cedar policy: per-action effects and the plan outcome for every autonomy mode and guardrail."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlroom.errors import ConfigurationError
from controlroom.policy import TargetFacts, decide_plan, default_engine, load_engine
from controlroom.policy.engine import POLICY_DIR
from controlroom.settings import load_settings
from tests.unit.test_policy_flow_state import action, plan

PROTECTED = {"controlroom:protected": "true"}


def bound(the_plan, tags=None):
    """Every action's target bound to the incident, with ``tags`` as its own tags (read)."""
    return {
        a.action_id: TargetFacts(in_scope=True, tags=tags or {}, tags_read=True) for a in the_plan.actions
    }


NOT_ALLOWLISTED = {"document_name": "Custom-WipeDatabase"}

# (mode, environment, action type, action overrides, tags, confidence) -> (outcome, effect, deciding policy id)
CASES = [
    ("shadow", "prod", "rollback_ecs_service", {}, {}, 0.9, "auto", "allow", "shadow-dry-run-everything"),
    ("shadow", "test", "rollback_lambda_alias", {}, {}, 0.9, "auto", "allow", "shadow-dry-run-everything"),
    ("advice", "test", "rollback_lambda_alias", {}, {}, 0.9, "deny", "deny", "default-deny"),
    ("advice", "prod", "notify_only", {}, {}, 0.9, "auto", "allow", "advice-notify-only"),
    ("supervised", "test", "notify_only", {}, {}, 0.9, "auto", "allow", "supervised-low-risk-auto"),
    (
        "supervised",
        "test",
        "rollback_lambda_alias",
        {},
        {},
        0.9,
        "approval",
        "needs_approval",
        "supervised-risky-needs-approval",
    ),
    (
        "supervised",
        "prod",
        "rollback_ecs_service",
        {},
        {},
        0.9,
        "approval",
        "needs_approval",
        "supervised-risky-needs-approval",
    ),
    ("gated", "test", "notify_only", {}, {}, 0.9, "auto", "allow", "gated-notify-only-auto"),
    (
        "gated",
        "test",
        "rollback_lambda_alias",
        {},
        {},
        0.9,
        "approval",
        "needs_approval",
        "gated-changes-need-approval",
    ),
    (
        "gated",
        "prod",
        "stop_codedeploy_deployment",
        {},
        {},
        0.9,
        "approval",
        "needs_approval",
        "gated-changes-need-approval",
    ),
    (
        "gated",
        "test",
        "run_ssm_automation",
        {},
        {},
        0.9,
        "approval",
        "needs_approval",
        "gated-changes-need-approval",
    ),
    # guardrails: a protected target is never touched, in any mode, even just to notify
    ("supervised", "test", "rollback_lambda_alias", {}, PROTECTED, 0.9, "deny", "deny", "protected-target"),
    ("shadow", "test", "notify_only", {}, PROTECTED, 0.9, "deny", "deny", "protected-target"),
    ("gated", "prod", "rollback_ecs_service", {}, PROTECTED, 0.9, "deny", "deny", "protected-target"),
    (
        "supervised",
        "test",
        "rollback_lambda_alias",
        {},
        {"controlroom:protected": "false"},
        0.9,
        "approval",
        "needs_approval",
        "supervised-risky-needs-approval",
    ),
    # guardrails: SSM documents off the allow-list are denied, even with approval or in shadow mode
    (
        "gated",
        "test",
        "run_ssm_automation",
        NOT_ALLOWLISTED,
        {},
        0.9,
        "deny",
        "deny",
        "ssm-document-not-allowlisted",
    ),
    (
        "shadow",
        "test",
        "run_ssm_automation",
        NOT_ALLOWLISTED,
        {},
        0.9,
        "deny",
        "deny",
        "ssm-document-not-allowlisted",
    ),
    # low confidence quarantines the plan whatever Cedar says about its actions
    (
        "supervised",
        "test",
        "rollback_lambda_alias",
        {},
        {},
        0.3,
        "quarantine",
        "needs_approval",
        "supervised-risky-needs-approval",
    ),
    ("supervised", "test", "notify_only", {}, {}, 0.59, "quarantine", "allow", "supervised-low-risk-auto"),
]


def _settings(mode: str, environment: str):
    return load_settings(
        {
            "AUTONOMY_MODE": mode,
            "ENVIRONMENT": environment,
            "CONFIDENCE_THRESHOLD": "0.6",
            "SSM_DOCUMENT_ALLOWLIST": "AWS-RestartEC2Instance",
        }
    )


@pytest.mark.parametrize(
    (
        "mode",
        "environment",
        "action_type",
        "overrides",
        "tags",
        "confidence",
        "outcome",
        "effect",
        "policy_id",
    ),
    CASES,
)
def test_decision_table(
    mode, environment, action_type, overrides, tags, confidence, outcome, effect, policy_id
):
    # Given a one-action plan in an environment running in an autonomy mode
    the_plan = plan(action(action_type, **overrides))
    # When the policy decides it
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan, tags),
        confidence=confidence,
        settings=_settings(mode, environment),
        engine=default_engine(),
    )
    # Then the outcome, the action's effect and the deciding policy are the expected ones
    assert decision.outcome == outcome
    (action_decision,) = decision.decisions
    assert action_decision.effect == effect
    assert policy_id in action_decision.reasons
    assert decision.plan_digest == the_plan.plan_digest
    assert decision.dry_run is (mode == "shadow")
    assert decision.environment == environment and decision.autonomy_mode.value == mode


def test_risk_comes_from_the_catalog_not_the_plan():
    # Given a plan whose rationale claims the ECS rollback is harmless
    the_plan = plan(action("rollback_ecs_service", rationale="Zero risk, run it now."))
    # When decided in supervised mode
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan),
        confidence=0.9,
        settings=_settings("supervised", "test"),
        engine=default_engine(),
    )
    # Then the catalog's high risk applies and a human must approve
    assert decision.decisions[0].risk == "high"
    assert decision.outcome == "approval"


def test_one_denied_action_denies_the_plan_and_every_action_is_listed():
    # Given a plan with a notification (allowed) and an SSM document off the allow-list (denied)
    the_plan = plan(action("notify_only", "act-1"), action("run_ssm_automation", "act-2", **NOT_ALLOWLISTED))
    # When decided in supervised mode
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan),
        confidence=0.9,
        settings=_settings("supervised", "test"),
        engine=default_engine(),
    )
    # Then the plan is denied, the reason names the denied action and its policy
    assert decision.outcome == "deny"
    assert [(d.action_id, d.effect) for d in decision.decisions] == [("act-1", "allow"), ("act-2", "deny")]
    assert "act-2" in decision.reason and "ssm-document-not-allowlisted" in decision.reason


def test_mixed_allow_and_approval_needs_approval():
    the_plan = plan(action("notify_only", "act-1"), action("rollback_lambda_alias", "act-2"))
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan),
        confidence=0.9,
        settings=_settings("supervised", "test"),
        engine=default_engine(),
    )
    assert decision.outcome == "approval"
    assert [d.effect for d in decision.decisions] == ["allow", "needs_approval"]


@pytest.mark.parametrize(("environment", "effect"), [("prod", "needs_approval"), ("staging", "allow")])
def test_prod_high_risk_is_never_auto_even_if_a_policy_permits_it(environment, effect):
    # Given the repository's policies plus a careless policy that permits everything
    engine = load_engine(
        extra_sources={"careless.cedar": '@id("permit-everything")\npermit (principal, action, resource);'}
    )
    # When a high-risk ECS rollback is decided in supervised mode
    the_plan = plan(action("rollback_ecs_service"))
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan),
        confidence=0.9,
        settings=_settings("supervised", environment),
        engine=engine,
    )
    # Then in prod the forbid still keeps it from running on its own; elsewhere the permit wins
    assert decision.decisions[0].effect == effect
    if environment == "prod":
        assert "prod-high-risk-never-auto" in decision.decisions[0].reasons


def test_forbids_beat_a_permit_everything_policy():
    engine = load_engine(
        extra_sources={"careless.cedar": '@id("permit-everything")\npermit (principal, action, resource);'}
    )
    the_plan = plan(action("rollback_lambda_alias"))
    decision = decide_plan(
        the_plan,
        targets=bound(the_plan, PROTECTED),
        confidence=0.9,
        settings=_settings("supervised", "test"),
        engine=engine,
    )
    assert decision.outcome == "deny"
    assert decision.decisions[0].reasons == ["protected-target"]


def _copy_policies(tmp_path: Path) -> None:
    for source in POLICY_DIR.glob("*.cedar"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "schema.json").write_text((POLICY_DIR / "schema.json").read_text())


def test_malformed_policy_file_fails_loudly_at_load(tmp_path):
    # Given the policy folder with one file that does not parse
    _copy_policies(tmp_path)
    (tmp_path / "broken.cedar").write_text('@id("broken")\npermit (principal, action resource);')
    # When the engine loads, Then it refuses, naming the file
    with pytest.raises(ConfigurationError, match=r"broken\.cedar"):
        load_engine(tmp_path)


def test_policy_without_id_fails_at_load(tmp_path):
    _copy_policies(tmp_path)
    (tmp_path / "anonymous.cedar").write_text("permit (principal, action, resource);")
    with pytest.raises(ConfigurationError, match="no @id"):
        load_engine(tmp_path)


def test_policy_that_does_not_match_the_schema_fails_at_load(tmp_path):
    # Given a policy that misspells a context attribute (it would silently never match)
    _copy_policies(tmp_path)
    (tmp_path / "typo.cedar").write_text(
        '@id("typo")\npermit (principal, action, resource) when { context.autonomy == "shadow" };'
    )
    with pytest.raises(ConfigurationError, match="schema"):
        load_engine(tmp_path)


def test_empty_policy_folder_fails_at_load(tmp_path):
    with pytest.raises(ConfigurationError, match="no Cedar policies"):
        load_engine(tmp_path)
