"""Publish the scorecard's figures as CloudWatch metrics (the dashboard's scorecard widgets read them)."""

from __future__ import annotations

from typing import Any

from controlroom import metric_names as names
from controlroom.autonomy.scorecard import Scorecard

_FIGURES = (
    (names.SCORECARD_INCIDENTS, "incidents", "Count"),
    (names.SCORECARD_AGREEMENT_RATE, "agreement_rate", "None"),
    (names.SCORECARD_OVERRIDE_RATE, "override_rate", "None"),
    (names.SCORECARD_FALSE_POSITIVE_RATE, "false_positive_rate", "None"),
    (names.SCORECARD_COST_PER_INCIDENT, "cost_per_incident_usd", "None"),
)


def metric_data(card: Scorecard, environment: str) -> list[dict[str, Any]]:
    """PutMetricData entries: one per figure and action kind; unknown figures are left out, not zeroed."""
    data = []
    for row in card.kinds:
        dimensions = [
            {"Name": names.SERVICE_DIMENSION, "Value": names.SERVICE},
            {"Name": names.ENVIRONMENT_DIMENSION, "Value": environment},
            {"Name": names.SCORECARD_DIMENSION, "Value": row.action_kind},
        ]
        figures = [(name, getattr(row, field), unit) for name, field, unit in _FIGURES]
        figures.append((names.SCORECARD_MEETS_CRITERIA, 1.0 if row.meets_criteria else 0.0, "None"))
        data += [
            {"MetricName": name, "Dimensions": dimensions, "Value": float(value), "Unit": unit}
            for name, value, unit in figures
            if value is not None
        ]
    return data


def publish(cloudwatch: Any, card: Scorecard, environment: str) -> int:
    """Put the scorecard's metrics in the Controlroom namespace; returns how many were put."""
    data = metric_data(card, environment)
    for offset in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace=names.NAMESPACE, MetricData=data[offset : offset + 20])
    return len(data)
