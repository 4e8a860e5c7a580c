"""The SLO guard's statistics: the two-proportion test, the minimum sample, the p99 bound, the alarms."""

from __future__ import annotations

import math

import pytest

from controlroom.contracts.deployment import CanaryPlan, CanaryStep, VersionStats
from controlroom.deploy.stats import compare, two_proportion_test

PLAN = CanaryPlan(
    steps=[CanaryStep(weight_percent=10, bake_seconds=300)],
    max_extensions=2,
    min_invocations=100,
    max_error_rate_delta=0.005,
    p99_ratio_limit=1.5,
    significance=0.01,
)


def _stats(
    version: str, invocations: int, errors: int, p99: float | None = 100.0, throttles: int = 0
) -> VersionStats:
    return VersionStats(
        version=version, invocations=invocations, errors=errors, throttles=throttles, p99_ms=p99
    )


def test_two_proportion_test_matches_the_textbook_formula() -> None:
    # Given 30/1000 errors on the canary and 10/1000 on stable (pooled p = 0.02)
    result = two_proportion_test(30, 1000, 10, 1000)
    # Then z = (0.03 - 0.01) / sqrt(0.02 * 0.98 * 2/1000) and p is the upper tail
    expected_z = 0.02 / math.sqrt(0.02 * 0.98 * 0.002)
    assert result.z_score == pytest.approx(expected_z)
    assert result.p_value == pytest.approx(0.5 * math.erfc(expected_z / math.sqrt(2)))
    assert result.p_value < 0.01


def test_no_events_on_either_side_is_no_evidence() -> None:
    assert two_proportion_test(0, 500, 0, 500).p_value == 1.0


@pytest.mark.parametrize("counts", [(1, 0, 10, 10), (-1, 10, 0, 10), (11, 10, 0, 10)])
def test_impossible_counts_are_refused(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        two_proportion_test(*counts)


def test_too_little_traffic_is_inconclusive_even_with_zero_errors() -> None:
    # Given a canary that looks perfect on 99 invocations
    verdict = compare(_stats("1", 5000, 25), _stats("2", 99, 0), PLAN, [])
    # Then it is not a pass: below the minimum sample nothing is concluded
    assert verdict.outcome == "inconclusive"
    assert "version 2 had 99" in verdict.reasons[0]


def test_a_significant_error_increase_fails() -> None:
    verdict = compare(_stats("1", 5000, 25), _stats("2", 500, 40), PLAN, [])
    assert verdict.outcome == "fail"
    assert verdict.p_value is not None and verdict.p_value < PLAN.significance


def test_the_same_error_rate_passes() -> None:
    verdict = compare(_stats("1", 9000, 45), _stats("2", 1000, 5), PLAN, [])
    assert verdict.outcome == "pass"


def test_a_significant_but_negligible_increase_on_huge_traffic_passes() -> None:
    # 0.50 % vs 0.52 % over millions is "significant" but below the tolerance of half a point
    verdict = compare(_stats("1", 9_000_000, 45_000), _stats("2", 1_000_000, 5_200), PLAN, [])
    assert verdict.p_value is not None and verdict.p_value < PLAN.significance
    assert verdict.outcome == "pass"


def test_a_p99_over_the_ratio_limit_fails() -> None:
    verdict = compare(_stats("1", 5000, 25, p99=100.0), _stats("2", 500, 2, p99=160.0), PLAN, [])
    assert verdict.outcome == "fail" and verdict.p99_ratio == pytest.approx(1.6)


def test_a_throttle_increase_fails() -> None:
    verdict = compare(_stats("1", 5000, 25), _stats("2", 500, 2, throttles=30), PLAN, [])
    assert verdict.outcome == "fail"
    assert any("throttle rate" in reason and "significantly higher" in reason for reason in verdict.reasons)


def test_an_alarm_in_alarm_fails_whatever_the_sample() -> None:
    verdict = compare(_stats("1", 10, 0), _stats("2", 1, 0), PLAN, ["orders-api-errors"])
    assert verdict.outcome == "fail" and "orders-api-errors" in verdict.reasons[0]
