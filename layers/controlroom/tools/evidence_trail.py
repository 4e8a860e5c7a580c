"""Evidence tool: the change feed across the graph (CloudTrail LookupEvents), attributed to nodes.

A change belongs to the node of its resource (a Lambda function, an ECS service, a CodeDeploy
application). A parameter or a configuration has no node of its own: it belongs to every node allowed
to read it, from the declared map ``GRAPH_PARAMETER_READERS`` (the environment's config in cdk.json:
``{"/petstore/*": ["PetSite", ...], "appconfig:<application-id>": [...]}``, node ids or names,
glob patterns). A change with several nodes stays ambiguous; the metrics decide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from controlroom.contracts.graph import GraphChange, GraphChangeKind, GraphNode, ServiceGraph
from controlroom.tools.evidence_common import parse_aws_timestamp

EVENT_SOURCES = (
    "lambda.amazonaws.com",
    "ecs.amazonaws.com",
    "ssm.amazonaws.com",
    "appconfig.amazonaws.com",
    "codedeploy.amazonaws.com",
)
_MAX_PAGES = 10
# CloudTrail names Lambda's API versions into the event name (UpdateFunctionCode20150331v2).
_KIND_OF_EVENT: tuple[tuple[str, GraphChangeKind], ...] = (
    ("UpdateFunctionCode", "lambda_code"),
    ("UpdateFunctionConfiguration", "lambda_configuration"),
    ("UpdateAlias", "lambda_alias"),
    ("CreateAlias", "lambda_alias"),
    ("UpdateService", "ecs_service"),
    ("CreateService", "ecs_service"),
    ("RegisterTaskDefinition", "ecs_task_definition"),
    ("PutParameter", "ssm_parameter"),
    ("StartDeployment", "appconfig_deployment"),
    ("CreateDeployment", "codedeploy_deployment"),
)
_PARAMETER_KEYS = {
    "lambda_code": ("functionName",),
    "lambda_configuration": ("functionName",),
    "lambda_alias": ("functionName",),
    "ecs_service": ("service", "serviceName"),
    "ecs_task_definition": ("family",),
    "ssm_parameter": ("name",),
    "appconfig_deployment": ("applicationId",),
    "codedeploy_deployment": ("applicationName", "deploymentGroupName"),
}
_NODE_KINDS = {
    "lambda_code": ("lambda_function", "lambda_service"),
    "lambda_configuration": ("lambda_function", "lambda_service"),
    "lambda_alias": ("lambda_function", "lambda_service"),
    "ecs_service": ("ecs_service",),
    "ecs_task_definition": ("ecs_service",),
}


def change_kind(event_name: str) -> GraphChangeKind | None:
    """The change kind of a CloudTrail event name, or None for events that change nothing we track."""
    return next((kind for prefix, kind in _KIND_OF_EVENT if event_name.startswith(prefix)), None)


def short_name(value: str) -> str:
    """A resource name from an ARN or a name (``function:NAME:alias``, ``service/cluster/NAME``)."""
    if not value.startswith("arn:"):
        return value
    resource = value.split(":", 5)[-1]
    if resource.startswith("function:"):
        return resource.split(":")[1]
    return resource.rsplit("/", 1)[-1]


def _resource_name(kind: GraphChangeKind, event: dict[str, Any], detail: dict[str, Any]) -> str:
    parameters = detail.get("requestParameters") or {}
    for key in _PARAMETER_KEYS[kind]:
        if parameters.get(key):
            return str(parameters[key]) if kind == "ssm_parameter" else short_name(str(parameters[key]))
    resources = event.get("Resources") or [{}]
    name = str(resources[0].get("ResourceName", ""))
    return name if kind == "ssm_parameter" else short_name(name)


def readers_of(resource_key: str, readers: dict[str, list[str]], graph: ServiceGraph) -> list[str]:
    """Graph node ids allowed to read a parameter or configuration, from the declared map."""
    declared = {
        reader for pattern, names in readers.items() if fnmatchcase(resource_key, pattern) for reader in names
    }
    return sorted(node.node_id for node in graph.nodes if node.node_id in declared or node.name in declared)


def _own_nodes(kind: GraphChangeKind, name: str, nodes: list[GraphNode]) -> list[str]:
    named = [node for node in nodes if node.name == name]
    for node_kind in _NODE_KINDS.get(kind, ()):
        matching = [node.node_id for node in named if node.kind == node_kind]
        if matching:
            return matching
    return [] if kind in _NODE_KINDS else sorted(node.node_id for node in named)


def attribute(
    kind: GraphChangeKind,
    name: str,
    detail: dict[str, Any],
    graph: ServiceGraph,
    readers: dict[str, list[str]],
) -> list[str]:
    """The nodes a change could belong to (several: ambiguous; none: outside the graph)."""
    if kind == "ssm_parameter":
        return readers_of(name, readers, graph)
    if kind == "appconfig_deployment":
        return readers_of(f"appconfig:{name}", readers, graph)
    if kind == "codedeploy_deployment":
        group = str((detail.get("requestParameters") or {}).get("deploymentGroupName", ""))
        return sorted(set(_own_nodes(kind, name, graph.nodes)) | set(_own_nodes(kind, group, graph.nodes)))
    return _own_nodes(kind, name, graph.nodes)


def to_change(
    event: dict[str, Any], index: int, graph: ServiceGraph, readers: dict[str, list[str]]
) -> GraphChange | None:
    """One LookupEvents event as a GraphChange (ref ``graph-change:<kind>:<index>``), or None if untracked."""
    kind = change_kind(str(event.get("EventName", "")))
    if kind is None:
        return None
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except json.JSONDecodeError:
        detail = {}
    name = _resource_name(kind, event, detail)
    actor = event.get("Username") or (detail.get("userIdentity") or {}).get("arn")
    return GraphChange(
        ref=f"graph-change:{kind}:{index}",
        kind=kind,
        event_name=str(event["EventName"]),
        resource_name=name[:1000],
        changed_at=parse_aws_timestamp(event["EventTime"]),
        node_ids=attribute(kind, name, detail, graph, readers),
        actor=str(actor)[:200] if actor else None,
        summary=f"{event['EventName']} on {name} by {actor or 'unknown'}"[:500],
    )


def lookup_events(cloudtrail: Any, source: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Write events of one event source in [start, end], all pages (at most 10 of 50)."""
    request: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": source}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": 50,
    }
    events: list[dict[str, Any]] = []
    for _ in range(_MAX_PAGES):
        response = cloudtrail.lookup_events(**request)
        events.extend(e for e in response.get("Events", []) if str(e.get("ReadOnly", "false")) != "true")
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    return events


def fetch_graph_changes(
    clients: Callable[[str], Any],
    graph: ServiceGraph,
    start: datetime,
    end: datetime,
    readers: dict[str, list[str]] | None = None,
) -> list[GraphChange]:
    """Tracked changes in [start, end] from every event source, oldest first, attributed to nodes."""
    cloudtrail = clients("cloudtrail")
    events = [event for source in EVENT_SOURCES for event in lookup_events(cloudtrail, source, start, end)]
    events.sort(key=lambda event: (parse_aws_timestamp(event["EventTime"]), str(event.get("EventId", ""))))
    changes = [to_change(event, index, graph, readers or {}) for index, event in enumerate(events)]
    return [change for change in changes if change is not None]
