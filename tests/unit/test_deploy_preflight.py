"""Preflight's pure parts: the request, the manifest diff, freeze windows, the risk score, the canary plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controlroom.deploy.canary import canary_plan, opted_in
from controlroom.deploy.freeze import active_freeze
from controlroom.deploy.manifest import manifest_diff
from controlroom.deploy.preflight import parse_request
from controlroom.deploy.risk import assess_risk
from controlroom.errors import ConfigurationError, InvalidDeploymentRequest
from controlroom.settings import load_settings

STABLE = {
    "CodeSha256": "a" * 43 + "=",
    "Runtime": "python3.12",
    "Handler": "app.handler",
    "MemorySize": 512,
    "Timeout": 30,
    "Role": "arn:aws:iam::1:role/r",
    "Environment": {"Variables": {"DB_URL": "postgres://secret@db", "LOG_LEVEL": "INFO", "OLD": "1"}},
}
# A Tuesday at 10:00 UTC: office hours.
TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_the_diff_names_changed_fields_and_env_keys_but_never_values() -> None:
    candidate = {
        **STABLE,
        "CodeSha256": "b" * 43 + "=",
        "MemorySize": 1024,
        "Environment": {
            "Variables": {"DB_URL": "postgres://other-secret@db", "LOG_LEVEL": "INFO", "NEW": "x"}
        },
    }
    diff = manifest_diff(STABLE, candidate)
    assert diff.changed_fields == ["code_sha256", "memory_mb"]
    assert (diff.env_keys_added, diff.env_keys_removed, diff.env_keys_changed) == (
        ["NEW"],
        ["OLD"],
        ["DB_URL"],
    )
    assert "secret" not in diff.model_dump_json()


def test_risk_adds_a_reason_per_contribution() -> None:
    diff = manifest_diff(STABLE, {**STABLE, "CodeSha256": "b" * 43 + "=", "Runtime": "python3.13"})
    low = assess_risk(
        manifest_diff(STABLE, {**STABLE, "CodeSha256": "b" * 43 + "="}),
        target_environment="dev",
        moment=TUESDAY,
        recent_incidents=0,
    )
    assert (low.level, low.score) == ("low", 1)
    high = assess_risk(
        diff, target_environment="prod", moment=datetime(2026, 12, 5, 23, tzinfo=UTC), recent_incidents=2
    )
    assert high.level == "high"
    assert high.score == 1 + 3 + 3 + 1 + 2
    joined = " ".join(high.reasons)
    for expected in (
        "runtime changes",
        "target environment prod",
        "outside office hours",
        "2 recent incident",
    ):
        assert expected in joined


@pytest.mark.parametrize(
    ("windows", "moment", "active"),
    [
        ("daily 22:00-06:00", datetime(2026, 12, 1, 23, 30, tzinfo=UTC), True),
        ("daily 22:00-06:00", datetime(2026, 12, 1, 12, 0, tzinfo=UTC), False),
        ("Fri 18:00-Mon 06:00", datetime(2026, 12, 6, 12, 0, tzinfo=UTC), True),  # a Sunday
        ("Fri 18:00-Mon 06:00", TUESDAY, False),
        ("2026-12-24T00:00Z/2026-12-27T00:00Z", datetime(2026, 12, 25, tzinfo=UTC), True),
        ("2026-12-24T00:00Z/2026-12-27T00:00Z; daily 00:00-24:00", TUESDAY, True),
        ("", TUESDAY, False),
    ],
)
def test_freeze_windows(windows: str, moment: datetime, active: bool) -> None:
    assert (active_freeze(windows, moment) is not None) is active


def test_a_freeze_window_that_does_not_parse_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="FREEZE_WINDOWS"):
        active_freeze("weekends", TUESDAY)


def test_the_request_comes_from_the_event_detail_or_bare() -> None:
    detail = {"function_name": "orders-api", "alias": "live", "candidate_version": "2"}
    event = {"source": "controlroom", "detail-type": "controlroom.deployment.requested", "detail": detail}
    assert parse_request(event) == parse_request(detail)


@pytest.mark.parametrize(
    "raw",
    [
        {"function_name": "orders-api", "alias": "live", "candidate_version": "$LATEST"},
        {"function_name": "orders-api", "alias": "live", "candidate_version": "2", "artifact_sha256": "abc"},
        {
            "detail-type": "something else",
            "detail": {"function_name": "f", "alias": "a", "candidate_version": "1"},
        },
    ],
)
def test_a_bad_request_is_a_named_error(raw: dict) -> None:
    with pytest.raises(InvalidDeploymentRequest):
        parse_request(raw)


def test_canary_plan_and_opt_in_come_from_settings() -> None:
    settings = load_settings({"CANARY_STEPS": "5@60,25@120,50@300", "DEPLOY_FUNCTION_PREFIX": "shop-"})
    assert [(s.weight_percent, s.bake_seconds) for s in canary_plan(settings).steps] == [
        (5, 60),
        (25, 120),
        (50, 300),
    ]
    assert opted_in("shop-cart", {}, settings)
    assert opted_in("orders-api", {"controlroom:deployable": "true"}, settings)
    assert not opted_in("orders-api", {"controlroom:deployable": "false"}, settings)
