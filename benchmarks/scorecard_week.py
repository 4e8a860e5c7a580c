"""A scorecard from a scripted week of shadow-mode incidents (the figures in the closing note).

The week is written out below, incident by incident (no randomness): what the agents proposed, what
the on-call did, whether the alarm recovered and what the incident cost. The scorecard is computed by
the same code `controlroom scorecard` runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controlroom.autonomy.scorecard import HumanAction, IncidentHistory, PromotionCriteria, scorecard
from controlroom.local.scorecard_cli import render

END = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROLLBACK, ECS, NOTIFY = "rollback_lambda_alias", "rollback_ecs_service", "notify_only"
# day, hour, proposed kind, what the human did (verdict, source, kind, seconds after the alarm), recovered, cost
WEEK = [
    (0, 3, ROLLBACK, ("changed", "cloudtrail", ROLLBACK, 420), True, 0.031),
    (0, 14, ROLLBACK, ("did_this", "approval_page", None, 300), True, 0.028),
    (1, 9, ECS, ("changed", "cloudtrail", "other", 900), True, 0.044),
    (1, 22, ROLLBACK, None, True, 0.026),
    (2, 11, NOTIFY, None, True, 0.012),
    (3, 2, ROLLBACK, ("changed", "cloudtrail", ROLLBACK, 610), True, 0.030),
    (3, 16, ECS, ("did_other", "cli", None, 1200), False, 0.047),
    (4, 8, ROLLBACK, ("did_this", "cli", None, 240), True, 0.029),
    (5, 13, ROLLBACK, ("changed", "cloudtrail", ROLLBACK, 380), True, 0.033),
    (5, 19, ECS, ("changed", "cloudtrail", ECS, 700), True, 0.041),
    (6, 7, ROLLBACK, ("did_this", "approval_page", None, 330), True, 0.027),
    (6, 20, ROLLBACK, None, False, 0.025),
]


def week() -> list[IncidentHistory]:
    histories = []
    for n, (day, hour, kind, human, recovered, cost) in enumerate(WEEK):
        alarm_at = END - timedelta(days=7) + timedelta(days=day, hours=hour)
        actions = []
        if human:
            verdict, source, changed_kind, after = human
            actions.append(
                HumanAction(
                    verdict=verdict,
                    source=source,
                    kind=changed_kind,
                    actor="oncall",
                    at=alarm_at + timedelta(seconds=after),
                )
            )
        histories.append(
            IncidentHistory(
                incident_id=f"inc-{n + 1:016x}",
                mode="shadow",
                alarm_at=alarm_at,
                proposed_at=alarm_at + timedelta(seconds=35 + n),
                proposed=[kind],
                human=actions,
                recovered=recovered,
                cost_usd=cost,
            )
        )
    return histories


if __name__ == "__main__":
    card = scorecard(week(), PromotionCriteria(), since=END - timedelta(days=7), until=END)
    print(render(card, []))
    print("with the week's own criteria (5 days, 5 incidents):")
    relaxed = PromotionCriteria(min_days_observed=5, min_incidents=5)
    for row in scorecard(week(), relaxed, since=END - timedelta(days=7), until=END).kinds:
        print(f"  {row.action_kind}: {'MEETS' if row.meets_criteria else 'not yet: ' + '; '.join(row.unmet)}")
