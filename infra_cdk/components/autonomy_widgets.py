"""Dashboard widgets of the kill switch and the shadow/advice scorecard (by action kind)."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from controlroom import metric_names as m

SCORECARD_PERIOD = Duration.days(1)


def scorecard_search(metric_name: str, env_name: str, label: str) -> cloudwatch.MathExpression:
    """Every action kind's series of one scorecard figure (``controlroom scorecard --publish`` puts them)."""
    dims = f"{m.SERVICE_DIMENSION},{m.ENVIRONMENT_DIMENSION},{m.SCORECARD_DIMENSION}"
    query = (
        f'SEARCH(\'{{{m.NAMESPACE},{dims}}} MetricName="{metric_name}" '
        f"{m.ENVIRONMENT_DIMENSION}=\"{env_name}\"', 'Average', {int(SCORECARD_PERIOD.to_seconds())})"
    )
    return cloudwatch.MathExpression(expression=query, label=label, period=SCORECARD_PERIOD)


def autonomy_widgets(env_name: str, metric: Callable[..., cloudwatch.Metric]) -> list[cloudwatch.IWidget]:
    """The kill switch (gauge, what it stopped) and the scorecard figures per action kind."""
    sum_ = cloudwatch.Stats.SUM
    return [
        cloudwatch.GraphWidget(
            title="Kill switch (1 = halted) and what it stopped",
            left=[metric(m.AUTONOMY_HALTED, cloudwatch.Stats.MAXIMUM, "halted", period=Duration.minutes(1))],
            right=[
                metric(m.AUTONOMY_HALTED_DECISIONS, sum_, "plans halted at Policy"),
                metric(m.AUTONOMY_HALTED_ACTIONS, sum_, "actions halted at Execute"),
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Scorecard: agreement, override and false-positive rates by action kind",
            left=[
                scorecard_search(m.SCORECARD_AGREEMENT_RATE, env_name, "agreement"),
                scorecard_search(m.SCORECARD_OVERRIDE_RATE, env_name, "override"),
                scorecard_search(m.SCORECARD_FALSE_POSITIVE_RATE, env_name, "false positives"),
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Scorecard: incidents, model cost (USD) and promotion criteria met, by action kind",
            left=[scorecard_search(m.SCORECARD_INCIDENTS, env_name, "incidents")],
            right=[
                scorecard_search(m.SCORECARD_COST_PER_INCIDENT, env_name, "USD per incident"),
                scorecard_search(m.SCORECARD_MEETS_CRITERIA, env_name, "meets criteria"),
            ],
            width=8,
        ),
    ]
