"""The SLO guard (read-only): canary against stable from Lambda metrics split by ``ExecutedVersion``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from controlroom.aws import client
from controlroom.contracts import utcnow
from controlroom.contracts.deployment import DeploymentRef, GuardInput, GuardVerdict, VersionStats
from controlroom.deploy.stats import compare
from controlroom.runtime import AgentContext, AgentSpec

NAMESPACE = "AWS/Lambda"
_PERIOD = 60
_SUMS = ("Invocations", "Errors", "Throttles")


def version_dimensions(deployment: DeploymentRef, version: str) -> list[dict[str, str]]:
    """The dimensions Lambda publishes per alias and executed version."""
    return [
        {"Name": "FunctionName", "Value": deployment.function_name},
        {"Name": "Resource", "Value": f"{deployment.function_name}:{deployment.alias}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]


def _queries(deployment: DeploymentRef, versions: dict[str, str]) -> list[dict[str, Any]]:
    queries = []
    for role, version in versions.items():
        dimensions = version_dimensions(deployment, version)
        for metric in _SUMS:
            queries.append(_query(f"{role}_{metric.lower()}", metric, dimensions, "Sum"))
        queries.append(_query(f"{role}_p99", "Duration", dimensions, "p99"))
    return queries


def _query(query_id: str, metric: str, dimensions: list[dict[str, str]], stat: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
            "Period": _PERIOD,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def read_stats(
    deployment: DeploymentRef, start: datetime, end: datetime
) -> tuple[VersionStats, VersionStats]:
    """(stable, canary) over [start, end): sums of invocations, errors, throttles and the worst p99 minute."""
    versions = {"stable": deployment.stable_version, "canary": deployment.candidate_version}
    response = client("cloudwatch").get_metric_data(
        MetricDataQueries=_queries(deployment, versions), StartTime=start, EndTime=end
    )
    values = {
        result["Id"]: [v for v in result.get("Values", []) if v is not None]
        for result in response["MetricDataResults"]
    }
    stats = []
    for role, version in versions.items():
        p99 = values.get(f"{role}_p99") or []
        stats.append(
            VersionStats(
                version=version,
                invocations=int(sum(values.get(f"{role}_invocations", []))),
                errors=int(sum(values.get(f"{role}_errors", []))),
                throttles=int(sum(values.get(f"{role}_throttles", []))),
                p99_ms=max(p99) if p99 else None,
            )
        )
    return stats[0], stats[1]


def alarms_in_alarm(function_name: str) -> list[str]:
    """Names of the alarms on the function (any of its metrics) that are in ALARM now."""
    paginator = client("cloudwatch").get_paginator("describe_alarms")
    names = []
    for page in paginator.paginate(StateValue="ALARM", AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            if dimensions.get("FunctionName") == function_name:
                names.append(alarm["AlarmName"])
    return sorted(names)


def guard(request: GuardInput, ctx: AgentContext) -> GuardVerdict:
    """Compare canary and stable since the step's traffic shift; pass, fail or inconclusive."""
    ctx.check_time()
    deployment = request.deployment
    plan = request.preflight.canary
    assert plan is not None
    start = request.shift.shifted_at.replace(microsecond=0)
    end = max(utcnow(), start + timedelta(seconds=1))
    with ctx.tool("cloudwatch:get_metric_data") as call:
        stable, canary = read_stats(deployment, start, end)
        call.summary = f"stable {stable.invocations} inv, canary {canary.invocations} inv"
    with ctx.tool("cloudwatch:describe_alarms") as call:
        alarming = alarms_in_alarm(deployment.function_name)
        call.summary = f"{len(alarming)} alarm(s) in ALARM"
    comparison = compare(stable, canary, plan, alarming)
    ctx.confidence = None
    return GuardVerdict(
        outcome=comparison.outcome,  # type: ignore[arg-type]
        reasons=comparison.reasons,
        stable=stable,
        canary=canary,
        z_score=comparison.z_score,
        p_value=comparison.p_value,
        p99_ratio=comparison.p99_ratio,
        alarms_in_alarm=alarming,
        extensions_left=max(0, plan.max_extensions - request.control.extensions),
        window_start=start,
        window_end=end,
    )


SLO_GUARD = AgentSpec(
    name="slo_guard",
    input_model=GuardInput,
    output_model=GuardVerdict,
    logic=guard,
    # "<outcome> (<reasons>)", not "pass: ...": the redactor reads "pass:" as a password key and would
    # store "[REDACTED:password]" in every passing guard's decision record.
    summarise=lambda out: f"{out.outcome} ({'; '.join(out.reasons)[:280]})",
)
