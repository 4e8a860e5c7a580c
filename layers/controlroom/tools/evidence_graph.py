"""Evidence tool: the service graph around the alarmed resource (X-Ray GetServiceGraph, or declared).

Node ids follow X-Ray: ``<Name>_<Type>`` when X-Ray reports a type, ``<Name>`` otherwise, so two
nodes with one name (a Lambda service and its function, a client and the service it calls) stay
apart. Where tracing is absent, the environment's declared topology (``GRAPH_TOPOLOGY``, set from
the environment's block in cdk.json) stands in.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from controlroom.contracts import IncidentRef
from controlroom.contracts.graph import GraphEdge, GraphNode, GraphSource, ServiceGraph

_MAX_PAGES = 10
# X-Ray node types -> the node kinds the graph contract names; unknown AWS types are aws_service.
_KIND_OF_TYPE = {
    "AWS::Lambda::Function": "lambda_function",
    "AWS::Lambda": "lambda_service",
    "AWS::ECS::Fargate": "ecs_service",
    "AWS::ECS::Container": "ecs_service",
    "AWS::EKS::Container": "eks_service",
    "AWS::EC2::Instance": "ec2_instance",
    "AWS::DynamoDB::Table": "dynamodb_table",
    "AWS::SQS::Queue": "sqs_queue",
    "AWS::SNS::Topic": "sns_topic",
    "AWS::ApiGateway::Stage": "api_gateway_stage",
    "Database::SQL": "rds_database",
    "client": "client",
    "remote": "remote",
}
# Dimensions that name the alarmed resource, and the node kinds each may name (best first).
_ALARM_DIMENSIONS = (
    ("FunctionName", ("lambda_function", "lambda_service")),
    ("TableName", ("dynamodb_table",)),
    ("QueueName", ("sqs_queue",)),
    ("ServiceName", ("ecs_service",)),
    ("Service", ("eks_service", "ecs_service", "lambda_service", "service", "ec2_instance")),
)
_CALLER_VIEWS = frozenset({"client", "remote"})


class GraphUnavailable(LookupError):
    """Neither X-Ray nor a declared topology gives a graph that contains the alarmed resource."""


def node_id_of(name: str, xray_type: str | None) -> str:
    """The graph node id of an X-Ray service: ``<Name>_<Type>``, or ``<Name>`` without a type."""
    return f"{name}_{xray_type}" if xray_type else name


def kind_of(xray_type: str | None) -> str:
    """The node kind of an X-Ray type (``service`` for an untyped node, ``aws_service`` for other AWS)."""
    if not xray_type:
        return "service"
    return _KIND_OF_TYPE.get(xray_type, "aws_service" if xray_type.startswith("AWS::") else "service")


def arn_of(kind: str, name: str, region: str, account: str) -> str | None:
    """The resource ARN where the node's kind and name determine it (ECS needs the cluster: None)."""
    if kind == "lambda_function":
        return f"arn:aws:lambda:{region}:{account}:function:{name}"
    if kind == "dynamodb_table":
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"
    if kind == "sqs_queue":
        return f"arn:aws:sqs:{region}:{account}:{name.rstrip('/').rsplit('/', 1)[-1]}"
    return None


def nodes_and_edges(
    services: Iterable[dict[str, Any]], region: str, account: str
) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Graph nodes and caller -> callee edges from GetServiceGraph's ``Services``."""
    by_reference: dict[int, GraphNode] = {}
    raw = list(services)
    for service in raw:
        name, xray_type = str(service["Name"]), service.get("Type")
        kind = kind_of(xray_type)
        by_reference[int(service["ReferenceId"])] = GraphNode(
            node_id=node_id_of(name, xray_type),
            name=name,
            kind=kind,
            arn=arn_of(kind, name, region, str(service.get("AccountId") or account)),
        )
    edges = {
        (by_reference[int(service["ReferenceId"])].node_id, by_reference[int(edge["ReferenceId"])].node_id)
        for service in raw
        for edge in service.get("Edges", [])
        if int(edge["ReferenceId"]) in by_reference
    }
    nodes = sorted({node.node_id: node for node in by_reference.values()}.values(), key=lambda n: n.node_id)
    return nodes, [GraphEdge(caller=a, callee=b) for a, b in sorted(edges)]


def root_of(nodes: list[GraphNode], incident: IncidentRef) -> str | None:
    """The node the alarm is about: from the alarmed resource, then from the alarm's dimensions."""
    resource = incident.resource
    wanted: list[tuple[str, tuple[str, ...]]] = []
    if resource.kind in ("lambda_function", "ecs_service"):
        wanted.append((resource.name, (resource.kind,)))
    dimensions = incident.alarm.dimensions or next(
        (q.dimensions for q in incident.alarm.metric_queries if q.dimensions), {}
    )
    wanted.extend((dimensions[key], kinds) for key, kinds in _ALARM_DIMENSIONS if dimensions.get(key))
    for name, kinds in wanted:
        named = [node for node in nodes if node.name == name]
        for kind in kinds:
            match = next((node for node in named if node.kind == kind), None)
            if match is not None:
                return match.node_id
        # A name without a matching kind: the node that is not a caller-side view of another.
        own = [node for node in named if node.kind not in _CALLER_VIEWS]
        if own:
            return own[0].node_id
    return None


def reachable(root: str, edges: Iterable[GraphEdge]) -> list[str]:
    """Node ids reachable from ``root`` along caller -> callee edges (root first, cycles safe)."""
    callees: dict[str, list[str]] = {}
    for edge in edges:
        callees.setdefault(edge.caller, []).append(edge.callee)
    seen, queue, order = {root}, deque([root]), [root]
    while queue:
        for callee in sorted(callees.get(queue.popleft(), [])):
            if callee not in seen:
                seen.add(callee)
                order.append(callee)
                queue.append(callee)
    return order


def _subgraph(source: GraphSource, nodes: list[GraphNode], edges: list[GraphEdge], root: str) -> ServiceGraph:
    keep = set(reachable(root, edges))
    return ServiceGraph(
        source=source,
        root=root,
        nodes=[node for node in nodes if node.node_id in keep],
        edges=[edge for edge in edges if edge.caller in keep and edge.callee in keep],
    )


def xray_graph(xray: Any, incident: IncidentRef, start: datetime, end: datetime) -> ServiceGraph | None:
    """The X-Ray graph reachable from the alarmed node, or None when X-Ray has no such node."""
    request: dict[str, Any] = {"StartTime": start, "EndTime": end}
    services: list[dict[str, Any]] = []
    for _ in range(_MAX_PAGES):
        response = xray.get_service_graph(**request)
        services.extend(response.get("Services", []))
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    nodes, edges = nodes_and_edges(services, incident.region, incident.account)
    root = root_of(nodes, incident)
    return None if root is None else _subgraph("xray", nodes, edges, root)


def declared_graph(topology_json: str, incident: IncidentRef) -> ServiceGraph | None:
    """The declared topology, ``{"nodes": [{node_id, name, kind, arn?}], "edges": [[caller, callee]]}``.

    Raises
    ------
    ValueError
        When the declaration is not JSON of that shape (a configuration error, reported as missing).
    """
    if not topology_json.strip():
        return None
    declared = json.loads(topology_json)
    nodes = [GraphNode.model_validate(node) for node in declared.get("nodes", [])]
    known = {node.node_id for node in nodes}
    edges = [GraphEdge(caller=str(a), callee=str(b)) for a, b in declared.get("edges", [])]
    unknown = sorted({n for edge in edges for n in (edge.caller, edge.callee)} - known)
    if unknown:
        raise ValueError(f"declared topology: edges name undeclared nodes {unknown[:5]}")
    root = root_of(nodes, incident)
    return None if root is None else _subgraph("declared", nodes, edges, root)


def fetch_service_graph(
    xray: Any, incident: IncidentRef, start: datetime, end: datetime, topology_json: str = ""
) -> ServiceGraph:
    """X-Ray's graph around the alarmed node; the declared topology where X-Ray has none.

    Raises
    ------
    GraphUnavailable
        When neither source contains the alarmed resource (the X-Ray error, if any, is chained).
    """
    failure: Exception | None = None
    try:
        traced = xray_graph(xray, incident, start, end)
        if traced is not None:
            return traced
    except Exception as exc:  # tracing absent or denied: the declared topology may still answer
        failure = exc
    declared = declared_graph(topology_json, incident)
    if declared is not None:
        return declared
    reason = f"X-Ray failed ({type(failure).__name__}: {failure})" if failure else "X-Ray has no node for it"
    raise GraphUnavailable(
        f"no service graph contains {incident.resource.kind} {incident.resource.name}: {reason}"
        + ("" if topology_json.strip() else "; no topology is declared")
    ) from failure
