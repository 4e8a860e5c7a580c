"""Map a CloudWatch alarm to the AWS resource it watches (ResourceRef) and to its metric queries."""

from __future__ import annotations

import re
from typing import Any

from controlroom.contracts.alarm import AlarmStateChangeEvent, MetricStat
from controlroom.contracts.incident import AlarmSummary, MetricQuery, ResourceRef


def resource_from_dimensions(dimensions: dict[str, str]) -> ResourceRef | None:
    """The resource named by one metric's dimensions, or None if no adapter family knows them.

    Parameters
    ----------
    dimensions
        Metric dimensions, e.g. ``{"FunctionName": "checkout-api", "Resource": "checkout-api:live"}``.

    Returns
    -------
    ResourceRef | None
        ``lambda_function`` (with the alias from ``Resource`` as qualifier), ``ecs_service`` or
        ``codedeploy_group``; None when the dimensions name none of them.
    """
    function_name = dimensions.get("FunctionName")
    if function_name:
        return ResourceRef(
            kind="lambda_function",
            name=function_name,
            qualifier=_lambda_qualifier(function_name, dimensions.get("Resource")),
        )
    if dimensions.get("ClusterName") and dimensions.get("ServiceName"):
        return ResourceRef(
            kind="ecs_service", name=dimensions["ServiceName"], cluster=dimensions["ClusterName"]
        )
    if dimensions.get("Application") and dimensions.get("DeploymentGroup"):
        return ResourceRef(
            kind="codedeploy_group", name=dimensions["DeploymentGroup"], application=dimensions["Application"]
        )
    return None


def _lambda_qualifier(function_name: str, resource: str | None) -> str | None:
    # Lambda's "Resource" dimension is "name:alias" (or "name:version") for qualified metrics.
    if not resource or not resource.startswith(function_name + ":"):
        return None
    qualifier = resource[len(function_name) + 1 :]
    return qualifier or None


def _metric_stats(event: AlarmStateChangeEvent) -> list[MetricStat]:
    return [
        metric.metric_stat for metric in event.detail.configuration.metrics if metric.metric_stat is not None
    ]


def resource_of(event: AlarmStateChangeEvent) -> ResourceRef:
    """The resource an alarm is about; composite or unrecognised alarms give kind "unknown".

    For metric math and anomaly bands the dimensions of the ``metricStat`` entries decide; the
    first entry that names a known resource wins.
    """
    if not event.detail.is_composite:
        for stat in _metric_stats(event):
            found = resource_from_dimensions(stat.metric.dimensions)
            if found is not None:
                return found
    return ResourceRef(kind="unknown", name=event.detail.alarm_name)


# ALARM(name), ALARM("name") or ALARM('name') in a composite alarm's rule.
_RULE_ALARM = re.compile(r"""ALARM\(\s*["']?([^"')]+?)["']?\s*\)""")


def child_alarm_names(event: AlarmStateChangeEvent) -> list[str]:
    """The child alarms to look at for a composite alarm: the triggering ones, else those its rule names.

    The triggering alarms come from ``detail.state.reasonData`` (``triggeringAlarms[].arn``), as
    CloudWatch sends them; a rule like ``ALARM(a) OR ALARM("b")`` is the fallback when they are absent.
    """
    names = [arn.rsplit(":alarm:", 1)[-1] for arn in event.detail.state.triggering_alarm_arns]
    if not names and event.detail.configuration.alarm_rule:
        names = _RULE_ALARM.findall(event.detail.configuration.alarm_rule)
    return list(dict.fromkeys(name.strip() for name in names if name.strip()))


def resource_of_described_alarm(alarm: dict[str, Any]) -> ResourceRef | None:
    """The resource a DescribeAlarms MetricAlarm entry watches (its dimensions, or its metric stats')."""
    dimension_sets = [alarm.get("Dimensions") or []]
    for query in alarm.get("Metrics") or []:
        dimension_sets.append(query.get("MetricStat", {}).get("Metric", {}).get("Dimensions") or [])
    for dimensions in dimension_sets:
        found = resource_from_dimensions({d["Name"]: d["Value"] for d in dimensions})
        if found is not None:
            return found
    return None


def resource_of_composite(event: AlarmStateChangeEvent, cloudwatch: Any) -> ResourceRef | None:
    """Resolve a composite alarm's resource through its triggering child alarms (DescribeAlarms).

    Returns None when no child names a known resource (the caller keeps kind "unknown").
    """
    names = child_alarm_names(event)[:100]
    if not names:
        return None
    response = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
    by_name = {alarm["AlarmName"]: alarm for alarm in response.get("MetricAlarms", [])}
    for name in names:  # the triggering order decides
        found = resource_of_described_alarm(by_name[name]) if name in by_name else None
        if found is not None:
            return found
    return None


def metric_queries_of(event: AlarmStateChangeEvent) -> list[MetricQuery]:
    """The alarm's metric queries, expressions included, in the order the alarm lists them."""
    queries: list[MetricQuery] = []
    for metric in event.detail.configuration.metrics:
        stat = metric.metric_stat
        queries.append(
            MetricQuery(
                id=metric.id,
                expression=metric.expression,
                label=metric.label,
                return_data=metric.return_data,
                namespace=stat.metric.namespace if stat else None,
                metric_name=stat.metric.name if stat else None,
                dimensions=dict(stat.metric.dimensions) if stat else {},
                period=stat.period if stat else None,
                stat=stat.stat if stat else None,
            )
        )
    return queries


def alarm_summary_of(event: AlarmStateChangeEvent) -> AlarmSummary:
    """What the incident keeps about the alarm: name, kind, when it fired, its primary metric."""
    detail = event.detail
    stats = _metric_stats(event)
    primary = stats[0] if stats else None
    return AlarmSummary(
        alarm_name=detail.alarm_name,
        alarm_arn=event.alarm_arn,
        kind=event.kind,
        state_reason=detail.state.reason[:2000],
        fired_at=detail.state.timestamp,
        namespace=primary.metric.namespace if primary else None,
        metric_name=primary.metric.name if primary else None,
        dimensions=dict(primary.metric.dimensions) if primary else {},
        alarm_rule=detail.configuration.alarm_rule,
        metric_queries=metric_queries_of(event),
        previous_state=detail.previous_state.value if detail.previous_state else None,
        triggering_alarms=detail.state.triggering_alarm_arns,
    )
