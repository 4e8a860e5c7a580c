"""Scorecard arithmetic on recorded histories: rates, times, cost, promotion, and the edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.stub import Stubber

from controlroom.autonomy.history import cloudtrail_changes
from controlroom.autonomy.publish import metric_data
from controlroom.autonomy.scorecard import (
    HumanAction,
    IncidentHistory,
    PromotionCriteria,
    classify,
    scorecard,
)

UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
ROLLBACK = "rollback_lambda_alias"


def _history(
    n: int,
    *human: HumanAction,
    days_ago: float = 1,
    recovered: bool = False,
    cost: float = 0.02,
    proposed=(ROLLBACK,),
):
    alarm_at = UNTIL - timedelta(days=days_ago)
    return IncidentHistory(
        incident_id=f"inc-{n:016x}",
        mode="shadow",
        alarm_at=alarm_at,
        proposed_at=alarm_at + timedelta(seconds=40),
        proposed=list(proposed),
        human=list(human),
        recovered=recovered,
        cost_usd=cost,
    )


def _changed(kind: str, after_seconds: float, alarm_days_ago: float = 1) -> HumanAction:
    at = UNTIL - timedelta(days=alarm_days_ago) + timedelta(seconds=after_seconds)
    return HumanAction(verdict="changed", source="cloudtrail", actor="alice", at=at, kind=kind)


def _card(histories, criteria=None, days=30):
    return scorecard(
        histories, criteria or PromotionCriteria(), since=UNTIL - timedelta(days=days), until=UNTIL
    )


def test_no_incidents_gives_no_rows_and_invents_no_rates():
    card = _card([])
    assert card.incidents == 0 and card.kinds == [] and card.rows == []


def test_all_overridden():
    # Given three incidents where humans did otherwise: a reject, "something else", a different change
    histories = [
        _history(1, HumanAction(verdict="rejected", source="approval", actor="bob")),
        _history(2, HumanAction(verdict="did_other", source="approval_page", actor="carol")),
        _history(3, _changed("rollback_ecs_service", 300)),
    ]
    (row,) = _card(histories).kinds
    assert (row.overridden, row.agreed, row.false_positives) == (3, 0, 0)
    assert (row.override_rate, row.agreement_rate, row.false_positive_rate) == (1.0, 0.0, 0.0)
    assert not row.meets_criteria and any("override_rate 1.0 > 0.2" in reason for reason in row.unmet)


def test_rates_times_and_cost_by_hand():
    # Given four rollback proposals: agreed by CloudTrail, a false positive, unknown, agreed by answer
    histories = [
        _history(1, _changed(ROLLBACK, 120), cost=0.04),
        _history(2, recovered=True, cost=0.02),
        _history(3, recovered=False, cost=0.02),
        _history(
            4,
            HumanAction(
                verdict="did_this",
                source="approval_page",
                at=UNTIL - timedelta(days=1) + timedelta(seconds=600),
            ),
            cost=0.04,
        ),
    ]
    (row,) = _card(histories).kinds
    assert (row.incidents, row.proposals) == (4, 4)
    assert (row.agreed, row.overridden, row.false_positives, row.unknown) == (2, 0, 1, 1)
    assert (row.agreement_rate, row.override_rate, row.false_positive_rate) == (0.5, 0.0, 0.25)
    assert row.median_seconds_to_proposal == 40.0
    assert row.median_seconds_to_human_action == 360.0  # median of 120 s and 600 s
    assert row.cost_per_incident_usd == 0.03 and row.cost_per_action_usd == 0.03
    # Proposal and human action side by side, per incident
    assert [r.classification for r in _card(histories).rows] == [
        "agreed",
        "false_positive",
        "unknown",
        "agreed",
    ]


def test_an_answer_beats_cloudtrail_and_a_notification_is_no_false_positive():
    answered = _history(1, _changed(ROLLBACK, 60), HumanAction(verdict="did_other", source="cli"))
    assert classify(answered, ROLLBACK) == "overridden"
    notified = _history(2, recovered=True, proposed=("notify_only",))
    assert classify(notified, "notify_only") == "agreed"


def test_promotion_needs_every_criterion():
    criteria = PromotionCriteria(
        min_days_observed=30, min_incidents=10, max_false_positive_rate=0.05, max_cost_per_action_usd=0.5
    )
    # Given 12 agreed rollbacks over 31 days and 12 over the last 10 days
    old = [_history(n, _changed(ROLLBACK, 60, alarm_days_ago=31 - n), days_ago=31 - n) for n in range(12)]
    recent = [_history(100 + n, _changed(ROLLBACK, 60)) for n in range(12)]
    (earned,) = _card(old, criteria, days=40).kinds
    (young,) = _card(recent, criteria, days=40).kinds
    assert earned.meets_criteria and earned.unmet == []
    assert not young.meets_criteria and young.unmet == ["observed 1.0 days < 30.0"]
    # And an expensive kind does not meet it either
    pricey = [
        _history(n, _changed(ROLLBACK, 60, alarm_days_ago=31 - n), days_ago=31 - n, cost=0.9)
        for n in range(12)
    ]
    (expensive,) = _card(pricey, criteria, days=40).kinds
    assert expensive.unmet == ["cost_per_action_usd 0.9 > 0.5"]


def test_incidents_outside_the_window_are_left_out():
    card = _card([_history(1, days_ago=45), _history(2, days_ago=2)], days=30)
    assert card.incidents == 1 and card.kinds[0].incidents == 1


def test_cloudtrail_changes_skip_reads_and_controlroom_itself():
    import boto3

    cloudtrail = boto3.client(
        "cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    start, end = UNTIL - timedelta(hours=1), UNTIL
    events = [
        {"EventName": "GetAlias", "ReadOnly": "true", "Username": "alice", "EventTime": end},
        {
            "EventName": "UpdateAlias",
            "ReadOnly": "false",
            "Username": "controlroom-dev-execute",
            "EventTime": end,
        },
        {"EventName": "UpdateAlias", "ReadOnly": "false", "Username": "alice", "EventTime": end},
        {"EventName": "PutFunctionConcurrency", "ReadOnly": "false", "Username": "bob", "EventTime": end},
    ]
    with Stubber(cloudtrail) as stub:
        stub.add_response(
            "lookup_events",
            {"Events": events},
            {
                "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": "checkout-api"}],
                "StartTime": start,
                "EndTime": end,
            },
        )
        actions = cloudtrail_changes(cloudtrail, ["checkout-api"], start, end, "controlroom-dev-")
    assert [(a.actor, a.kind) for a in actions] == [("alice", ROLLBACK), ("bob", "other")]


def test_metrics_leave_unknown_figures_out():
    (row_data) = metric_data(_card([_history(1)]), "dev")
    names = {d["MetricName"] for d in row_data}
    assert "ScorecardAgreementRate" in names and "ScorecardCostPerIncidentUsd" in names
    assert all({"Name": "action_kind", "Value": ROLLBACK} in d["Dimensions"] for d in row_data)
    assert metric_data(_card([]), "dev") == []


def test_criteria_come_from_cdk_json():
    from controlroom.local.scorecard_cli import load_criteria

    assert load_criteria(None) == PromotionCriteria(
        min_days_observed=30,
        min_incidents=10,
        max_false_positive_rate=0.05,
        max_override_rate=0.2,
        max_cost_per_action_usd=0.5,
    )
