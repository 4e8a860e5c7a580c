"""Verify's judgement: which datapoints breach the alarm's condition (static threshold or anomaly band)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlroom.agents.verify import alarm_queries, count_breaches

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def moments(n: int) -> list[datetime]:
    return [T0 + timedelta(minutes=i) for i in range(n)]


@pytest.mark.parametrize(
    ("operator", "values", "breaching"),
    [
        ("GreaterThanThreshold", [1.0, 5.0, 6.0], 1),
        ("GreaterThanOrEqualToThreshold", [1.0, 5.0, 6.0], 2),
        ("LessThanThreshold", [1.0, 5.0, 6.0], 1),
        ("LessThanOrEqualToThreshold", [1.0, 5.0, 6.0], 2),
    ],
)
def test_static_threshold_comparisons(operator, values, breaching):
    alarm = {"ComparisonOperator": operator, "Threshold": 5.0}
    results = [{"Id": "m1", "Timestamps": moments(len(values)), "Values": values}]
    evaluation = count_breaches(alarm, results, "m1")
    assert (evaluation.datapoints, evaluation.breaching) == (3, breaching)


def test_anomaly_band_uses_lower_and_upper_edges():
    # Given a band of [10, 20] at every moment and values inside, above and below it
    alarm = {"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold", "ThresholdMetricId": "ad1"}
    results = [
        {"Id": "m1", "Timestamps": moments(3), "Values": [15.0, 25.0, 5.0]},
        {"Id": "ad1", "Label": "high", "Timestamps": moments(3), "Values": [20.0] * 3},
        {"Id": "ad1", "Label": "low", "Timestamps": moments(3), "Values": [10.0] * 3},
    ]
    assert count_breaches(alarm, results, "m1").breaching == 2
    upper_only = {**alarm, "ComparisonOperator": "GreaterThanUpperThreshold"}
    assert count_breaches(upper_only, results, "m1").breaching == 1


def test_unknown_comparison_counts_no_datapoints():
    evaluation = count_breaches(
        {"ComparisonOperator": "Sideways"}, [{"Id": "m1", "Timestamps": moments(1), "Values": [1.0]}], "m1"
    )
    assert evaluation.datapoints == 0 and "cannot be evaluated" in evaluation.detail


def test_single_metric_alarm_becomes_one_query():
    alarm = {
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Period": 60,
        "Statistic": "Sum",
        "Dimensions": [{"Name": "FunctionName", "Value": "checkout-api"}],
    }
    queries, compared, period = alarm_queries(alarm)
    assert compared == "m1" and period == 60
    assert (
        queries[0]["MetricStat"]["Metric"]["MetricName"] == "Errors"
        and queries[0]["MetricStat"]["Stat"] == "Sum"
    )


def test_metric_math_alarm_compares_the_returned_expression():
    alarm = {
        "Metrics": [
            {"Id": "e1", "Expression": "100*errors/invocations", "ReturnData": True},
            {"Id": "errors", "MetricStat": {"Metric": {}, "Period": 300, "Stat": "Sum"}, "ReturnData": False},
        ]
    }
    queries, compared, period = alarm_queries(alarm)
    assert compared == "e1" and period == 300
    assert [q["ReturnData"] for q in queries] == [True, False]


class _NoCloudWatch:
    def get_metric_data(self, **request):  # pragma: no cover - reached only by the bug under test
        raise AssertionError(f"GetMetricData called with a window CloudWatch rejects: {request}")


def test_a_window_shorter_than_a_second_is_not_sent_to_cloudwatch():
    # Given a change right on a period boundary and a check less than a second after it
    # (CloudWatch compares whole seconds and rejects StartTime == EndTime as a ValidationError)
    from controlroom.agents.verify import _metric_evaluation

    alarm = {
        "Namespace": "AWS/Lambda",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": "checkout-api"}],
        "Statistic": "Sum",
        "Period": 60,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
    }
    evaluation = _metric_evaluation(_NoCloudWatch(), alarm, T0, T0 + timedelta(milliseconds=400))
    # Then nothing is judged yet (Verify waits and checks again) instead of failing the step
    assert (evaluation.datapoints, evaluation.breaching) == (0, 0)
