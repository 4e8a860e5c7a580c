"""The incident as the flow knows it: what fired, on which resource, and its lifecycle."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract

ResourceKind = Literal["lambda_function", "ecs_service", "codedeploy_group", "unknown"]


class IncidentStatus(StrEnum):
    OPEN = "OPEN"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    EXECUTING = "EXECUTING"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"
    REJECTED = "REJECTED"
    QUARANTINED = "QUARANTINED"

    @property
    def is_terminal(self) -> bool:
        return self in {
            IncidentStatus.RESOLVED,
            IncidentStatus.ESCALATED,
            IncidentStatus.REJECTED,
            IncidentStatus.QUARANTINED,
        }


class ResourceRef(Contract):
    """The AWS resource an alarm is about, derived from its metric dimensions."""

    kind: ResourceKind = Field(..., description="Which adapter family can act on it.")
    name: str = Field(
        ..., description="Function, service or deployment-group name; the alarm name if unknown."
    )
    qualifier: str | None = Field(None, description="Lambda alias, if the metric names one.")
    cluster: str | None = Field(None, description="ECS cluster, for ECS services.")
    application: str | None = Field(None, description="CodeDeploy application, for deployment groups.")


class MetricQuery(Contract):
    """One of the alarm's metric queries, as GetMetricData takes it: a metric stat or an expression."""

    id: str = Field(..., examples=["m1"])
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    period: int | None = Field(None, gt=0, description="Seconds; metric stats only.")
    stat: str | None = None
    expression: str | None = Field(None, description="Metric math or ANOMALY_DETECTION_BAND(...).")
    label: str | None = None
    return_data: bool = True


class AlarmSummary(Contract):
    alarm_name: str
    alarm_arn: str
    kind: Literal["composite", "anomaly_detection", "metric_math", "single_metric"]
    state_reason: str
    fired_at: datetime
    namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    alarm_rule: str | None = None
    metric_queries: list[MetricQuery] = Field(
        default_factory=list, description="Every metric query of the alarm (empty for composite alarms)."
    )
    previous_state: str | None = Field(
        None, description="The state the alarm left (OK, INSUFFICIENT_DATA, ALARM); None on older items."
    )
    triggering_alarms: list[str] = Field(
        default_factory=list,
        description="Composite alarms: ARNs of the child alarms that triggered it (the resource comes from them).",
    )


class IncidentRef(Contract):
    """What every agent after Intake receives about the incident."""

    incident_id: str = Field(..., pattern=r"^inc-[0-9a-f]{16}$", examples=["inc-3f2a9c0d11e84b7a"])
    environment: str
    account: str
    region: str
    alarm: AlarmSummary
    resource: ResourceRef
    dedupe_key: str = Field(..., description="One open incident per key (alarm ARN and resource).")
    opened_at: datetime
    deadline_at: datetime = Field(..., description="Agents stop work past this moment.")


class IntakeResult(Contract):
    outcome: Literal["opened", "duplicate", "ignored"]
    incident: IncidentRef | None = None
    duplicate_of: str | None = Field(None, description="The open incident this event folded into.")
    reason: str = ""
