"""Cedar's `deploy` decisions: risk, environment, autonomy mode, freeze windows and break-glass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlroom.contracts.deployment import (
    CanaryPlan,
    CanaryStep,
    DeploymentRef,
    DeployPolicyInput,
    FreezeStatus,
    PreflightResult,
    RiskAssessment,
)
from controlroom.deploy.policy import decide_deployment
from controlroom.policy import default_engine
from controlroom.settings import load_settings

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


def _request(
    risk: str = "low", tags: dict[str, str] | None = None, freeze: bool = False, break_glass: bool = False
) -> DeployPolicyInput:
    deployment = DeploymentRef(
        deployment_id="dep-0123456789abcdef",
        function_name="orders-api",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:orders-api",
        alias="live",
        stable_version="1",
        candidate_version="2",
        environment="dev",
        target_environment="dev",
        requested_by="ci",
        requested_at=NOW,
        deadline_at=NOW + timedelta(hours=1),
        break_glass=break_glass,
        tags=tags or {},
    )
    preflight = PreflightResult(
        outcome="ready",
        reason="checked",
        deployment=deployment,
        freeze=FreezeStatus(active=freeze, window="daily 00:00-24:00" if freeze else ""),
        risk=RiskAssessment(score=1, level=risk, reasons=["code"]),  # type: ignore[arg-type]
        canary=CanaryPlan(
            steps=[CanaryStep(weight_percent=10, bake_seconds=1)],
            max_extensions=1,
            min_invocations=100,
            max_error_rate_delta=0.005,
            p99_ratio_limit=1.5,
            significance=0.01,
        ),
        plan_digest="d" * 64,
    )
    return DeployPolicyInput(preflight=preflight)


def _settings(mode: str = "supervised", env: str = "dev", approvers: str = "a@x.io,b@x.io,c@x.io") -> object:
    return load_settings(
        {"ENVIRONMENT": env, "AUTONOMY_MODE": mode, "APPROVERS": approvers, "BREAK_GLASS_APPROVALS": "2"}
    )


@pytest.mark.parametrize(
    ("risk", "mode", "env", "tags", "outcome"),
    [
        ("low", "supervised", "dev", {}, "auto"),
        ("medium", "supervised", "dev", {}, "approval"),
        ("low", "supervised", "dev", {"controlroom:environment": "prod"}, "approval"),
        ("low", "supervised", "prod", {}, "approval"),
        ("low", "gated", "dev", {}, "approval"),
        ("low", "advice", "dev", {}, "deny"),
        ("low", "supervised", "dev", {"controlroom:protected": "true"}, "deny"),
    ],
)
def test_outcome_by_risk_environment_and_mode(risk, mode, env, tags, outcome) -> None:
    decision = decide_deployment(_request(risk, tags), _settings(mode, env), default_engine())  # type: ignore[arg-type]
    assert decision.outcome == outcome, decision.reason


def test_shadow_mode_dry_runs() -> None:
    decision = decide_deployment(_request(), _settings("shadow"), default_engine())  # type: ignore[arg-type]
    assert (decision.outcome, decision.dry_run) == ("auto", True)


def test_a_freeze_denies_without_break_glass() -> None:
    decision = decide_deployment(_request(freeze=True), _settings(), default_engine())  # type: ignore[arg-type]
    assert decision.outcome == "deny" and "deploy-change-freeze" in decision.reasons


def test_break_glass_in_a_freeze_needs_n_of_m_approvals() -> None:
    decision = decide_deployment(_request(freeze=True, break_glass=True), _settings(), default_engine())  # type: ignore[arg-type]
    assert decision.outcome == "approval"
    assert decision.required_approvals == 2
    # capped by the number of approvers there are
    single = decide_deployment(
        _request(freeze=True, break_glass=True), _settings(approvers="a@x.io"), default_engine()
    )  # type: ignore[arg-type]
    assert single.required_approvals == 1
