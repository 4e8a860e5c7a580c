"""The SLO guard's statistics: canary against stable, with a minimum sample and a documented test.

Errors (and throttles) per invocation are compared with a one-sided two-proportion z-test (pooled
variance): H0 "the canary's rate is not higher than stable's". The canary fails when p < alpha *and*
its rate exceeds stable's by more than a tolerance (so a statistically significant but negligible
difference on huge traffic does not roll back). Latency fails when canary p99 / stable p99 exceeds
a bound. Fewer than ``min_invocations`` on either version is *inconclusive*, never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controlroom.contracts.deployment import CanaryPlan, VersionStats


@dataclass(frozen=True)
class ProportionTest:
    z_score: float
    p_value: float


def two_proportion_test(
    canary_events: int, canary_n: int, stable_events: int, stable_n: int
) -> ProportionTest:
    """One-sided pooled two-proportion z-test that the canary's event rate is higher than stable's.

    Parameters
    ----------
    canary_events, canary_n
        Events (errors or throttles) and invocations on the canary version.
    stable_events, stable_n
        The same on the stable version.

    Returns
    -------
    ProportionTest
        z and the one-sided p-value (``P(Z >= z)``); with no events on either side, z = 0 and p = 1.

    Raises
    ------
    ValueError
        A count is negative or events exceed invocations.
    """
    for events, n in ((canary_events, canary_n), (stable_events, stable_n)):
        if n <= 0 or events < 0 or events > n:
            raise ValueError(f"need 0 <= events <= invocations and invocations > 0, got {events}/{n}")
    pooled = (canary_events + stable_events) / (canary_n + stable_n)
    variance = pooled * (1 - pooled) * (1 / canary_n + 1 / stable_n)
    if variance == 0:
        return ProportionTest(z_score=0.0, p_value=1.0)
    z = (canary_events / canary_n - stable_events / stable_n) / math.sqrt(variance)
    return ProportionTest(z_score=z, p_value=0.5 * math.erfc(z / math.sqrt(2)))


@dataclass(frozen=True)
class Comparison:
    outcome: str
    reasons: list[str]
    z_score: float | None
    p_value: float | None
    p99_ratio: float | None


def compare(
    stable: VersionStats, canary: VersionStats, plan: CanaryPlan, alarms_in_alarm: list[str]
) -> Comparison:
    """Decide pass, fail or inconclusive for one bake.

    An alarm of the function in ALARM fails whatever the sample; otherwise too few invocations on
    either version is inconclusive; otherwise errors, throttles and p99 latency decide.
    """
    reasons: list[str] = []
    if alarms_in_alarm:
        return Comparison("fail", [f"alarm(s) in ALARM: {', '.join(alarms_in_alarm)}"], None, None, None)
    short = [s for s in (stable, canary) if s.invocations < plan.min_invocations]
    if short:
        described = ", ".join(f"version {s.version} had {s.invocations}" for s in short)
        return Comparison(
            "inconclusive",
            [f"too little traffic: {described} invocations, fewer than the minimum {plan.min_invocations}"],
            None,
            None,
            None,
        )
    errors = two_proportion_test(canary.errors, canary.invocations, stable.errors, stable.invocations)
    throttles = two_proportion_test(
        canary.throttles, canary.invocations, stable.throttles, stable.invocations
    )
    failed = False
    for what, test, mine, theirs in (
        ("error rate", errors, canary.errors / canary.invocations, stable.errors / stable.invocations),
        (
            "throttle rate",
            throttles,
            canary.throttles / canary.invocations,
            stable.throttles / stable.invocations,
        ),
    ):
        line = f"{what} canary {mine:.2%} vs stable {theirs:.2%} (z={test.z_score:.2f}, p={test.p_value:.4f})"
        if test.p_value < plan.significance and mine - theirs > plan.max_error_rate_delta:
            failed = True
            reasons.append(f"{line}: significantly higher")
        else:
            reasons.append(f"{line}: not significantly higher")
    ratio = None
    if canary.p99_ms is not None and stable.p99_ms:
        ratio = canary.p99_ms / stable.p99_ms
        verdict = "over" if ratio > plan.p99_ratio_limit else "within"
        failed = failed or ratio > plan.p99_ratio_limit
        reasons.append(
            f"p99 duration canary {canary.p99_ms:.0f} ms vs stable {stable.p99_ms:.0f} ms "
            f"(ratio {ratio:.2f}, {verdict} the limit {plan.p99_ratio_limit:.2f})"
        )
    else:
        reasons.append("p99 duration not available for both versions: latency not compared")
    return Comparison("fail" if failed else "pass", reasons, errors.z_score, errors.p_value, ratio)
