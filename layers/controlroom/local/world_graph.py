"""The demo workload's service graph: a front end (``storefront``) calls ``checkout-api`` and a table.

The local block of cdk.json declares this topology (moto has no X-Ray service graph), so Evidence
reads it as it would read a declared topology in AWS. The metrics are put where
``evidence_graph_metrics`` reads them: five hours of normal operation, then the incident, in
five-minute points. Two causes: ``deploy`` (checkout-api's bad version errors, the front end's
errors follow) and ``table_load`` (the table slows under load, the front end times out; no change).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from controlroom.local.server import local_client

FRONTEND_FUNCTION = "storefront"
DOWNSTREAM_FUNCTION = "checkout-api"
TABLE = "carts"
FRONTEND_ALARM = "storefront-errors"
CAUSES = ("deploy", "table_load")
_NORMAL_POINTS = 60  # five hours of five-minute points
_INCIDENT_POINTS = 3
_STEP = timedelta(minutes=5)

# Per node: (normal, during the incident) for each metric; Lambda: invocations, errors, duration ms;
# table: requests, latency ms. The incident's numbers depend on the cause.
_PROFILES: dict[str, dict[str, tuple[tuple[float, ...], tuple[float, ...]]]] = {
    "deploy": {
        FRONTEND_FUNCTION: ((120.0, 0.0, 120.0), (120.0, 45.0, 135.0)),
        DOWNSTREAM_FUNCTION: ((100.0, 0.0, 50.0), (100.0, 42.0, 55.0)),
        TABLE: ((200.0, 5.0), (200.0, 5.2)),
    },
    "table_load": {
        FRONTEND_FUNCTION: ((120.0, 0.0, 120.0), (125.0, 30.0, 900.0)),
        DOWNSTREAM_FUNCTION: ((100.0, 0.0, 50.0), (100.0, 0.0, 51.0)),
        TABLE: ((200.0, 5.0), (900.0, 80.0)),
    },
}


def _wobble(index: int) -> float:
    # Deterministic noise, so the baseline has a spread and the test is repeatable.
    return 1.0 + 0.02 * ((index * 7) % 5 - 2)


def _lambda_datums(
    name: str, moment: datetime, values: tuple[float, ...], scale: float
) -> list[dict[str, Any]]:
    invocations, errors, duration = values
    dimensions = [{"Name": "FunctionName", "Value": name}]
    return [
        {
            "MetricName": "Invocations",
            "Dimensions": dimensions,
            "Timestamp": moment,
            "Value": invocations * scale,
        },
        {"MetricName": "Errors", "Dimensions": dimensions, "Timestamp": moment, "Value": errors * scale},
        {"MetricName": "Duration", "Dimensions": dimensions, "Timestamp": moment, "Value": duration * scale},
    ]


def _table_datums(moment: datetime, values: tuple[float, ...], scale: float) -> list[dict[str, Any]]:
    requests, latency = values
    count = requests * scale
    ms = latency * scale
    return [
        {
            "MetricName": "SuccessfulRequestLatency",
            "Dimensions": [{"Name": "TableName", "Value": TABLE}],
            "Timestamp": moment,
            "StatisticValues": {"SampleCount": count, "Sum": ms * count, "Minimum": ms, "Maximum": ms},
        }
    ]


def seed_graph_metrics(endpoint: str, cause: str, now: datetime | None = None) -> None:
    """Put every node's normal operation and the incident (the last three points) into CloudWatch."""
    cloudwatch = local_client("cloudwatch", endpoint)
    now = now or datetime.now(UTC)
    profile = _PROFILES[cause]
    lambda_data: list[dict[str, Any]] = []
    table_data: list[dict[str, Any]] = []
    total = _NORMAL_POINTS + _INCIDENT_POINTS
    for index in range(total):
        moment = now - _STEP * (total - index) + timedelta(minutes=2)
        phase = 1 if index >= _NORMAL_POINTS else 0
        scale = _wobble(index)
        for name in (FRONTEND_FUNCTION, DOWNSTREAM_FUNCTION):
            lambda_data += _lambda_datums(name, moment, profile[name][phase], scale)
        table_data += _table_datums(moment, profile[TABLE][phase], scale)
    for offset in range(0, len(lambda_data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=lambda_data[offset : offset + 500])
    cloudwatch.put_metric_data(Namespace="AWS/DynamoDB", MetricData=table_data)


def seed_frontend(endpoint: str, role_arn: str, code: bytes) -> None:
    """The front-end function (no alias: it is invoked unqualified), the table, and the front end's alarm."""
    lam = local_client("lambda", endpoint)
    lam.create_function(
        FunctionName=FRONTEND_FUNCTION,
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": code},
        Tags={"team": "web"},
    )
    local_client("dynamodb", endpoint).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "cart_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "cart_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    cloudwatch = local_client("cloudwatch", endpoint)
    cloudwatch.put_metric_alarm(
        AlarmName=FRONTEND_ALARM,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": FRONTEND_FUNCTION}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmDescription="storefront is throwing errors",
    )
    cloudwatch.set_alarm_state(
        AlarmName=FRONTEND_ALARM, StateValue="ALARM", StateReason="Threshold Crossed: 45 errors (seeded)."
    )


def frontend_recovered(endpoint: str) -> None:
    """The front end once its dependency is healthy again: no errors, alarm OK (simulated CloudWatch)."""
    cloudwatch = local_client("cloudwatch", endpoint)
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "FunctionName", "Value": FRONTEND_FUNCTION}],
                "Timestamp": datetime.now(UTC),
                "Value": 0.0,
            }
        ],
    )
    cloudwatch.set_alarm_state(
        AlarmName=FRONTEND_ALARM,
        StateValue="OK",
        StateReason="Errors back to 0 after the rollback (simulated).",
    )
