"""The canary plan from the environment's settings, and who may have their alias moved."""

from __future__ import annotations

from collections.abc import Mapping

from controlroom.contracts.deployment import CanaryPlan, CanaryStep
from controlroom.settings import Settings


def canary_plan(settings: Settings) -> CanaryPlan:
    """Steps (``CANARY_STEPS``, e.g. ``10@300,50@300``: 10 % for 300 s, 50 % for 300 s, then 100 %)."""
    steps = []
    for part in settings.CANARY_STEPS.split(","):
        weight, _, bake = part.partition("@")
        steps.append(CanaryStep(weight_percent=int(weight), bake_seconds=int(bake)))
    return CanaryPlan(
        steps=steps,
        max_extensions=settings.CANARY_MAX_EXTENSIONS,
        min_invocations=settings.CANARY_MIN_INVOCATIONS,
        max_error_rate_delta=settings.CANARY_MAX_ERROR_RATE_DELTA,
        p99_ratio_limit=settings.CANARY_P99_RATIO_LIMIT,
        significance=settings.CANARY_SIGNIFICANCE,
    )


def opted_in(function_name: str, tags: Mapping[str, str], settings: Settings) -> bool:
    """True if the function carries DEPLOY_OPT_IN_TAG (``key`` or ``key=value``) or DEPLOY_FUNCTION_PREFIX.

    The same rule is in IAM (the shifter's role); this check gives a clear refusal before any call.
    """
    prefix = settings.DEPLOY_FUNCTION_PREFIX
    if prefix and function_name.startswith(prefix):
        return True
    key, has_value, value = settings.DEPLOY_OPT_IN_TAG.partition("=")
    if not key:
        return False
    return key in tags and (not has_value or tags[key] == value)
