"""Robust statistics in plain Python (no numpy in the layer): centre, scale, correlation."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# MAD times this estimates a standard deviation for normal noise.
MAD_TO_SIGMA = 1.4826
# Mean absolute deviation times this is about one MAD for normal noise (0.6745 / 0.7979).
MEAN_TO_MAD = 0.8453
# A scale never below this share of the level: a flat baseline (availability pinned at 100, a
# latency that never moved) would otherwise turn a rounding step into a thousand-sigma anomaly.
RELATIVE_SCALE_FLOOR = 0.05
ABSOLUTE_SCALE_FLOOR = 1e-9
RATE_SCALE_FLOOR = 0.001


def robust_center(values: Sequence[float]) -> float:
    """The median of ``values`` (0.0 for an empty sequence)."""
    return statistics.median(values) if values else 0.0


def robust_scale(
    values: Sequence[float], *, kind: str = "level", level: float | None = None, center: float | None = None
) -> float:
    """A noise scale for ``values``: MAD-based, floored so that a flat series stays usable.

    Parameters
    ----------
    values
        The reference points (at least one).
    kind
        ``"level"`` (latency: floored at a share of the level), ``"counts"`` (requests: Poisson
        noise means a count of ``n`` wobbles by about ``sqrt(n)`` however flat the reference was) or
        ``"rate"`` (availability, error rate: floored at a tenth of a percentage point, because a
        rate pinned at 100 % has no spread and no level share to speak of).
    level
        The level the floors are taken from (default: the median of ``values``).
    center
        The median of ``values`` when the caller already has it (a baseline is long: sort it once).

    Returns
    -------
    float
        A positive scale in the units of ``values``.
    """
    center = robust_center(values) if center is None else center
    deviations = [abs(value - center) for value in values]
    mad = statistics.median(deviations) if deviations else 0.0
    if mad == 0.0 and deviations:
        # More than half the points sit exactly on the median (a rate of 100 %, a count of 0):
        # the mean deviation still sees the spread of the rest.
        mad = MEAN_TO_MAD * statistics.fmean(deviations)
    base = abs(center if level is None else level)
    if kind == "rate":
        # Rates come as fractions (the contract) or percentages: the floor follows the unit.
        full = 100.0 if max([base, *values], default=0.0) > 1.0 else 1.0
        return max(MAD_TO_SIGMA * mad, RATE_SCALE_FLOOR * full)
    scale = max(MAD_TO_SIGMA * mad, RELATIVE_SCALE_FLOOR * base, ABSOLUTE_SCALE_FLOOR)
    if kind == "counts":
        scale = max(scale, math.sqrt(base), 1.0)
    return scale


def pearson(left: Sequence[float], right: Sequence[float]) -> float:
    """Pearson correlation of two equally long sequences; 0.0 when either is flat or too short."""
    if len(left) != len(right) or len(left) < 3:
        return 0.0
    mean_left, mean_right = statistics.fmean(left), statistics.fmean(right)
    dev_left = [value - mean_left for value in left]
    dev_right = [value - mean_right for value in right]
    norm = math.sqrt(sum(d * d for d in dev_left) * sum(d * d for d in dev_right))
    if norm <= 0.0:
        return 0.0
    return max(-1.0, min(1.0, sum(a * b for a, b in zip(dev_left, dev_right, strict=True)) / norm))


def top_mean(values: Sequence[float], count: int = 2) -> float:
    """Mean of the ``count`` largest values: a peak that one stray point cannot make on its own."""
    if not values:
        return 0.0
    ordered = sorted(values, reverse=True)[: max(1, count)]
    return statistics.fmean(ordered)


def saturate(value: float, knee: float) -> float:
    """Map ``value >= 0`` onto [0, 1): ``value / (value + knee)`` (half way at ``knee``)."""
    return 0.0 if value <= 0.0 else value / (value + knee)
