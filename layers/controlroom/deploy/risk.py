"""The deployment's risk score: points per reason, so the approver reads why, not just how much."""

from __future__ import annotations

from datetime import datetime

from controlroom.contracts.deployment import ManifestDiff, RiskAssessment
from controlroom.deploy.freeze import office_hours

# Points per changed field: what a field's change can break, roughly, and how hard it is to undo.
FIELD_POINTS = {
    "code_sha256": 1,
    "runtime": 3,
    "handler": 2,
    "memory_mb": 1,
    "timeout_s": 1,
    "architecture": 3,
    "layers": 2,
    "role": 3,
}
ENVIRONMENT_POINTS = {"prod": 3, "staging": 1}
LOW_MAX, MEDIUM_MAX = 2, 5


def assess_risk(
    diff: ManifestDiff, *, target_environment: str, moment: datetime, recent_incidents: int
) -> RiskAssessment:
    """Score a deployment from its diff, environment, time of day and recent incidents.

    Parameters
    ----------
    diff
        The manifest diff between stable and candidate.
    target_environment
        Where the function runs (``prod`` adds the most).
    moment
        When the deployment would run (outside office hours adds points).
    recent_incidents
        Incidents on the function in the last days (each adds, up to three).

    Returns
    -------
    RiskAssessment
        ``low`` up to 2 points, ``medium`` up to 5, else ``high``; one reason per contribution.
    """
    reasons: list[str] = []
    score = 0
    for change in diff.changes:
        points = FIELD_POINTS.get(change.field, 1)
        score += points
        reasons.append(f"{change.field} changes (+{points})")
    env_kinds = [
        kind
        for kind, keys in (
            ("added", diff.env_keys_added),
            ("removed", diff.env_keys_removed),
            ("changed", diff.env_keys_changed),
        )
        if keys
    ]
    if env_kinds:
        score += len(env_kinds)
        reasons.append(f"environment variables {', '.join(env_kinds)} (+{len(env_kinds)})")
    if not diff.changes and not env_kinds:
        reasons.append("the candidate's configuration equals the stable version's (+0)")
    env_points = ENVIRONMENT_POINTS.get(target_environment, 0)
    if env_points:
        score += env_points
        reasons.append(f"target environment {target_environment} (+{env_points})")
    if not office_hours(moment):
        score += 1
        reasons.append("outside office hours (weekdays 08:00-17:00 UTC) (+1)")
    if recent_incidents:
        points = min(3, recent_incidents)
        score += points
        reasons.append(f"{recent_incidents} recent incident(s) on the function (+{points})")
    level = "low" if score <= LOW_MAX else "medium" if score <= MEDIUM_MAX else "high"
    return RiskAssessment(score=score, level=level, reasons=reasons)
