"""The Verify agent: after the change, is the alarm OK, or do its datapoints stay on the right side?"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controlroom import aws
from controlroom.contracts import VerifyResult, utcnow
from controlroom.contracts.flow.verify import VerifyInput
from controlroom.metric_names import TIME_TO_RECOVERY
from controlroom.runtime import AgentContext, AgentSpec, emit

_STATIC: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_BAND: dict[str, Callable[[float, float, float], bool]] = {
    "LessThanLowerOrGreaterThanUpperThreshold": lambda value, low, high: value < low or value > high,
    "LessThanLowerThreshold": lambda value, low, high: value < low,
    "GreaterThanUpperThreshold": lambda value, low, high: value > high,
}


@dataclass(frozen=True)
class Evaluation:
    """Datapoints since the change and how many of them breach the alarm's condition."""

    datapoints: int
    breaching: int
    detail: str


def _aligned_start(executed_at: datetime, period: int) -> datetime:
    # Start at the first period boundary after the change: every datapoint then lies wholly after it.
    epoch = math.ceil(executed_at.timestamp() / period) * period
    return datetime.fromtimestamp(epoch, tz=UTC)


def alarm_queries(alarm: dict[str, Any]) -> tuple[list[dict[str, Any]], str, int]:
    """GetMetricData queries for a described metric alarm, the id of the compared series, its period."""
    if alarm.get("Metrics"):
        queries = [
            {key: value for key, value in query.items() if key != "AccountId"} for query in alarm["Metrics"]
        ]
        band_id = alarm.get("ThresholdMetricId")
        returned = [q["Id"] for q in queries if q.get("ReturnData", True) and q["Id"] != band_id]
        compared = returned[0] if returned else queries[0]["Id"]
        periods = [q["MetricStat"]["Period"] for q in queries if "MetricStat" in q] + [
            q["Period"] for q in queries if "Period" in q
        ]
        for query in queries:
            query["ReturnData"] = query["Id"] in {compared, band_id}
        return queries, compared, int(periods[0]) if periods else 60
    stat = {
        "Metric": {
            "Namespace": alarm["Namespace"],
            "MetricName": alarm["MetricName"],
            "Dimensions": alarm.get("Dimensions", []),
        },
        "Period": alarm["Period"],
        "Stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
    }
    return [{"Id": "m1", "MetricStat": stat, "ReturnData": True}], "m1", int(alarm["Period"])


def count_breaches(alarm: dict[str, Any], results: list[dict[str, Any]], compared: str) -> Evaluation:
    """Compare each datapoint of the compared series with the static threshold or the anomaly band."""
    operator = alarm.get("ComparisonOperator", "")
    series = [r for r in results if r["Id"] == compared]
    points = (
        list(zip(series[0].get("Timestamps", []), series[0].get("Values", []), strict=False))
        if series
        else []
    )
    if operator in _STATIC and alarm.get("Threshold") is not None:
        threshold = float(alarm["Threshold"])
        breaching = sum(1 for _, value in points if _STATIC[operator](float(value), threshold))
        return Evaluation(len(points), breaching, f"{operator} {threshold:g}")
    if operator in _BAND:
        band: dict[datetime, list[float]] = {}
        for result in results:
            if result["Id"] == alarm.get("ThresholdMetricId"):
                for moment, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    band.setdefault(moment, []).append(float(value))
        judged = [(value, band[moment]) for moment, value in points if moment in band]
        breaching = sum(1 for value, edges in judged if _BAND[operator](float(value), min(edges), max(edges)))
        return Evaluation(len(judged), breaching, f"{operator} (anomaly band)")
    return Evaluation(0, 0, f"comparison {operator or 'unknown'} cannot be evaluated")


def _metric_evaluation(
    cloudwatch: Any, alarm: dict[str, Any], executed_at: datetime, now: datetime
) -> Evaluation:
    queries, compared, period = alarm_queries(alarm)
    start = _aligned_start(executed_at, period)
    # CloudWatch compares whole seconds: a window shorter than one is "StartTime equals EndTime".
    if (now - start).total_seconds() < 1:
        return Evaluation(0, 0, "no full period has passed since the change")
    results: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": now,
        "ScanBy": "TimestampAscending",
    }
    for _ in range(10):
        response = cloudwatch.get_metric_data(**request)
        results.extend(response.get("MetricDataResults", []))
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    return count_breaches(alarm, results, compared)


def _describe(cloudwatch: Any, alarm_name: str, composite: bool) -> dict[str, Any] | None:
    kind = "CompositeAlarm" if composite else "MetricAlarm"
    response = cloudwatch.describe_alarms(AlarmNames=[alarm_name], AlarmTypes=[kind])
    found = response.get("CompositeAlarms" if composite else "MetricAlarms", [])
    return dict(found[0]) if found else None


def _by_state(
    alarm_name: str, described: dict[str, Any], composite: bool, now: datetime
) -> VerifyResult | None:
    """The verdict the alarm's state alone gives: OK, or a composite alarm still firing."""
    state = str(described["StateValue"])
    if state == "OK":
        return VerifyResult(recovered=True, alarm_state=state, checked_at=now, detail=f"{alarm_name} is OK")
    if composite:
        return VerifyResult(
            recovered=False,
            alarm_state=state,
            checked_at=now,
            detail=f"composite alarm {alarm_name} is still {state}",
        )
    return None


def verify_alarm(request: VerifyInput, ctx: AgentContext, cloudwatch: Any) -> VerifyResult:
    """Recovered if the alarm is OK, or if datapoints exist since the change and none breaches."""
    alarm = request.incident.alarm
    composite = alarm.kind == "composite"
    now = utcnow()
    with ctx.tool("cloudwatch.describe_alarms") as call:
        described = _describe(cloudwatch, alarm.alarm_name, composite)
        call.summary = described["StateValue"] if described else "not found"
    if described is None:
        return VerifyResult(
            recovered=False,
            alarm_state="NOT_FOUND",
            checked_at=now,
            detail=f"alarm {alarm.alarm_name} no longer exists; cannot confirm recovery",
        )
    verdict = _by_state(alarm.alarm_name, described, composite, now)
    if verdict is not None:
        return verdict
    ctx.check_time(1.0)
    with ctx.tool("cloudwatch.get_metric_data") as call:
        evaluation = _metric_evaluation(cloudwatch, described, request.execution.executed_at, now)
        call.summary = f"{evaluation.datapoints} datapoints, {evaluation.breaching} breaching"
    detail = (
        f"alarm is {described['StateValue']}; {evaluation.datapoints} datapoints since the change, "
        f"{evaluation.breaching} breaching ({evaluation.detail})"
    )
    if evaluation.datapoints == 0:
        detail += "; no datapoint after the change yet, so recovery is not confirmed"
    return VerifyResult(
        recovered=evaluation.datapoints > 0 and evaluation.breaching == 0,
        alarm_state=str(described["StateValue"]),
        checked_at=now,
        detail=detail,
        breaching_datapoints=evaluation.breaching,
    )


def verify(request: VerifyInput, ctx: AgentContext) -> VerifyResult:
    """The Verify agent's logic with the process's cached CloudWatch client."""
    result = verify_alarm(request, ctx, aws.client("cloudwatch"))
    if result.recovered:
        emit.seconds_between(TIME_TO_RECOVERY, request.incident.alarm.fired_at, result.checked_at)
    ctx.summary = ("recovered" if result.recovered else "not recovered") + f": {result.detail}"[:250]
    return result


VERIFY: AgentSpec[VerifyInput, VerifyResult] = AgentSpec(
    name="verify",
    input_model=VerifyInput,
    output_model=VerifyResult,
    logic=verify,
    summarise=lambda result: "recovered" if result.recovered else "not recovered",
    # Verifying a change already made is never cut short by the incident's budget (Close notes lateness).
    stops_at_incident_deadline=False,
)
