"""The shadow/advice scorecard: what the agents proposed against what humans did, by action kind.

Pure arithmetic over recorded incident histories (collected by ``controlroom.autonomy.history``),
so every figure can be checked by hand. The scorecard says which action kinds meet the promotion
criteria; it changes no mode by itself.
"""

from datetime import datetime
from statistics import median
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract

# What a human did about an incident, from one source.
HumanVerdict = Literal["changed", "did_this", "did_other", "nothing_needed", "approved", "rejected"]
Classification = Literal["agreed", "overridden", "false_positive", "unknown"]
NO_CHANGE_KINDS = frozenset({"notify_only"})


class HumanAction(Contract):
    """One thing a human did (or said they did) about an incident."""

    verdict: HumanVerdict
    source: Literal["cloudtrail", "approval_page", "approval", "cli"]
    actor: str = ""
    at: datetime | None = None
    kind: str | None = Field(
        None, description="For a CloudTrail change: the catalog kind it amounts to, or other."
    )
    detail: str = ""


class IncidentHistory(Contract):
    """One incident as the scorecard needs it."""

    incident_id: str
    mode: str = Field(..., description="The autonomy mode Policy decided under.")
    alarm_at: datetime
    proposed_at: datetime | None = None
    proposed: list[str] = Field(default_factory=list, description="The plan's action kinds, one per action.")
    human: list[HumanAction] = Field(default_factory=list)
    recovered: bool = Field(False, description="The alarm went back to OK within the observation window.")
    cost_usd: float = 0.0


class PromotionCriteria(Contract):
    """When an action kind has earned more autonomy (from config; defaults are the promised ones)."""

    min_days_observed: float = Field(30, ge=0)
    min_incidents: int = Field(10, ge=0)
    max_false_positive_rate: float = Field(0.05, ge=0, le=1)
    max_override_rate: float = Field(0.2, ge=0, le=1)
    max_cost_per_action_usd: float = Field(0.5, ge=0)


class KindRow(Contract):
    action_kind: str
    incidents: int
    proposals: int
    agreed: int
    overridden: int
    false_positives: int
    unknown: int
    agreement_rate: float | None
    override_rate: float | None
    false_positive_rate: float | None
    median_seconds_to_proposal: float | None
    median_seconds_to_human_action: float | None
    cost_per_incident_usd: float | None
    cost_per_action_usd: float | None
    days_observed: float
    meets_criteria: bool
    unmet: list[str] = Field(default_factory=list, description="Why it does not meet the criteria yet.")


class IncidentRow(Contract):
    """Proposal and human action side by side, for one incident and kind."""

    incident_id: str
    action_kind: str
    mode: str
    classification: Classification
    human: str


class Scorecard(Contract):
    since: datetime
    until: datetime
    incidents: int
    criteria: PromotionCriteria
    kinds: list[KindRow] = Field(default_factory=list)
    rows: list[IncidentRow] = Field(default_factory=list)


def classify(history: IncidentHistory, kind: str) -> Classification:
    """What the humans' actions say about one proposed kind.

    An explicit answer wins over an approval decision, which wins over CloudTrail. A false positive
    is a proposed change where nobody changed anything and the alarm recovered by itself.
    """
    by_source = {
        source: [h for h in history.human if h.source == source] for source in ("approval_page", "cli")
    }
    answers = by_source["approval_page"] + by_source["cli"]
    if answers:
        verdict = answers[-1].verdict
        if verdict == "did_this":
            return "agreed"
        if verdict == "did_other":
            return "overridden"
    decisions = [h for h in history.human if h.source == "approval"]
    if decisions:
        return "agreed" if decisions[-1].verdict == "approved" else "overridden"
    changes = [h for h in history.human if h.source == "cloudtrail" and h.verdict == "changed"]
    if changes:
        return "agreed" if any(c.kind == kind for c in changes) else "overridden"
    if kind not in NO_CHANGE_KINDS and history.recovered:
        return "false_positive"
    if kind in NO_CHANGE_KINDS and history.recovered:
        return "agreed"  # a notification only, nobody changed anything, and nothing was needed
    return "unknown"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(moments: list[tuple[datetime, datetime | None]]) -> float | None:
    spans = [(later - alarm).total_seconds() for alarm, later in moments if later is not None]
    return round(median(spans), 1) if spans else None


def _first_human_moment(history: IncidentHistory) -> datetime | None:
    moments = [h.at for h in history.human if h.at is not None]
    return min(moments) if moments else None


def _row(
    kind: str, histories: list[IncidentHistory], criteria: PromotionCriteria, until: datetime
) -> KindRow:
    counts = {"agreed": 0, "overridden": 0, "false_positive": 0, "unknown": 0}
    for history in histories:
        counts[classify(history, kind)] += 1
    incidents = len(histories)
    proposals = sum(h.proposed.count(kind) for h in histories)
    cost = sum(h.cost_usd for h in histories)
    days = (until - min(h.alarm_at for h in histories)).total_seconds() / 86400 if histories else 0.0
    row = {
        "action_kind": kind,
        "incidents": incidents,
        "proposals": proposals,
        "agreed": counts["agreed"],
        "overridden": counts["overridden"],
        "false_positives": counts["false_positive"],
        "unknown": counts["unknown"],
        "agreement_rate": _rate(counts["agreed"], incidents),
        "override_rate": _rate(counts["overridden"], incidents),
        "false_positive_rate": _rate(counts["false_positive"], incidents),
        "median_seconds_to_proposal": _seconds([(h.alarm_at, h.proposed_at) for h in histories]),
        "median_seconds_to_human_action": _seconds([(h.alarm_at, _first_human_moment(h)) for h in histories]),
        "cost_per_incident_usd": round(cost / incidents, 6) if incidents else None,
        "cost_per_action_usd": round(cost / proposals, 6) if proposals else None,
        "days_observed": round(days, 2),
    }
    unmet = _unmet(row, criteria)
    return KindRow(**row, meets_criteria=not unmet, unmet=unmet)


def _unmet(row: dict[str, object], criteria: PromotionCriteria) -> list[str]:
    unmet = []
    if float(row["days_observed"]) < criteria.min_days_observed:  # type: ignore[arg-type]
        unmet.append(f"observed {row['days_observed']} days < {criteria.min_days_observed}")
    if int(row["incidents"]) < criteria.min_incidents:  # type: ignore[call-overload]
        unmet.append(f"{row['incidents']} incidents < {criteria.min_incidents}")
    for name, limit in (
        ("false_positive_rate", criteria.max_false_positive_rate),
        ("override_rate", criteria.max_override_rate),
        ("cost_per_action_usd", criteria.max_cost_per_action_usd),
    ):
        value = row[name]
        if value is None:
            unmet.append(f"{name} unknown")
        elif float(value) > limit:  # type: ignore[arg-type]
            unmet.append(f"{name} {value} > {limit}")
    return unmet


def scorecard(
    histories: list[IncidentHistory], criteria: PromotionCriteria, *, since: datetime, until: datetime
) -> Scorecard:
    """The scorecard of the incidents whose alarm fired in [since, until].

    Parameters
    ----------
    histories
        Recorded incidents; those outside the window are left out.
    criteria
        Promotion criteria from config.

    Returns
    -------
    Scorecard
        One row per action kind proposed (sorted by name) and one per incident and kind. With no
        incidents there are no rows, and no rate is invented (rates of nothing are None).
    """
    window = [h for h in histories if since <= h.alarm_at <= until]
    kinds = sorted({kind for h in window for kind in h.proposed})
    rows = []
    for history in sorted(window, key=lambda h: h.alarm_at):
        human = "; ".join(
            f"{h.source}:{h.verdict}" + (f"({h.kind})" if h.kind else "") for h in history.human
        )
        for kind in dict.fromkeys(history.proposed):
            rows.append(
                IncidentRow(
                    incident_id=history.incident_id,
                    action_kind=kind,
                    mode=history.mode,
                    classification=classify(history, kind),
                    human=human or "nothing recorded",
                )
            )
    return Scorecard(
        since=since,
        until=until,
        incidents=len(window),
        criteria=criteria,
        kinds=[_row(kind, [h for h in window if kind in h.proposed], criteria, until) for kind in kinds],
        rows=rows,
    )
