"""The service graph around an alarmed resource: topology, per-node metrics, changes, ranked candidates.

Evidence fills the first three from AWS (X-Ray or a declared topology, CloudWatch, CloudTrail);
the ranking in ``controlroom.diagnosis`` reads them with no AWS at all and returns ``Candidate``s.
Node ids are the graph's own names (X-Ray's ``name`` plus type, or the declared id) and are never
interpreted by the ranking beyond equality.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract

GraphSource = Literal["xray", "declared"]
NodeMetricName = Literal["latency", "errors", "availability", "requests"]
MetricWindow = Literal["incident", "baseline"]
GraphChangeKind = Literal[
    "lambda_code",
    "lambda_configuration",
    "lambda_alias",
    "ecs_service",
    "ecs_task_definition",
    "ssm_parameter",
    "appconfig_deployment",
    "codedeploy_deployment",
]
SignalName = Literal["anomaly", "explains_alarm", "graph_position", "onset", "change"]


class GraphNode(Contract):
    node_id: str = Field(..., description="The node's id in the graph, unique within it.")
    name: str = Field(..., description="The service or resource name as the graph reports it.")
    kind: str = Field(
        ...,
        description="What the node is: lambda_function, ecs_service, eks_service, dynamodb_table, "
        "sqs_queue, rds_database, api_gateway_stage, aws_service, remote, client, ...",
        examples=["lambda_function"],
    )
    arn: str | None = Field(None, description="The AWS resource ARN, where the graph knows it.")


class GraphEdge(Contract):
    caller: str = Field(..., description="node_id of the calling node.")
    callee: str = Field(..., description="node_id of the called node.")


class ServiceGraph(Contract):
    source: GraphSource
    root: str = Field(..., description="node_id of the alarmed node.")
    nodes: list[GraphNode] = Field(default_factory=list, max_length=500)
    edges: list[GraphEdge] = Field(default_factory=list, max_length=5000)


class NodeMetric(Contract):
    """One metric of one node over one window (values aligned with timestamps, oldest first)."""

    ref: str = Field(..., examples=["graph-metric:PetSite:latency:incident"])
    node_id: str
    metric: NodeMetricName = Field(
        ...,
        description="latency in ms; errors as a fault/error rate in [0, 1]; availability in [0, 1]; "
        "requests per period.",
    )
    statistic: str = Field("Average", examples=["Average", "p90", "Sum"])
    window: MetricWindow
    period_seconds: int = Field(300, gt=0)
    timestamps: list[datetime] = Field(default_factory=list, max_length=1500)
    values: list[float] = Field(default_factory=list, max_length=1500)


class GraphMetrics(Contract):
    series: list[NodeMetric] = Field(default_factory=list)
    no_data: list[str] = Field(default_factory=list, description="node_ids with no datapoints at all.")


class GraphChange(Contract):
    """A change from the change feed, attributed to the graph nodes it could belong to."""

    ref: str = Field(..., examples=["graph-change:ssm_parameter:0"])
    kind: GraphChangeKind
    event_name: str = Field(..., examples=["PutParameter"])
    resource_name: str
    changed_at: datetime
    node_ids: list[str] = Field(
        default_factory=list,
        description="The nodes the change could belong to; more than one means ambiguous.",
    )
    actor: str | None = None
    summary: str = Field("", max_length=500)


class Signal(Contract):
    name: SignalName
    value: float = Field(..., description="This signal's contribution, in [0, 1].")
    evidence_refs: list[str] = Field(default_factory=list)


class Candidate(Contract):
    node_id: str
    name: str
    kind: str
    arn: str | None = None
    score: float = Field(..., ge=0.0)
    signals: list[Signal] = Field(default_factory=list)
    why: str = Field(..., max_length=300, description="One line: why this node ranks where it does.")
