"""The EventBridge "CloudWatch Alarm State Change" event (Powertools has no model for it)."""

import json
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def _normalise_timestamp(value: object) -> object:
    # CloudWatch writes "2019-10-02T17:04:40.985+0000": an offset without a colon.
    if isinstance(value, str):
        return _OFFSET_WITHOUT_COLON.sub(r"\1:\2", value)
    return value


class _EventModel(BaseModel):
    # AWS adds fields over time: accept unknown ones so a new field never drops an alarm.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class AlarmState(_EventModel):
    value: AlarmStateValue = Field(..., description="State the alarm entered or left.", examples=["ALARM"])
    reason: str = Field("", description="Human-readable reason CloudWatch gives for the state.")
    reason_data: str | None = Field(None, alias="reasonData", description="JSON text with the datapoints.")
    timestamp: datetime = Field(..., description="When the alarm entered this state.")
    actions_suppressed_by: str | None = Field(
        None,
        alias="actionsSuppressedBy",
        description="Set when a suppressor alarm holds back the alarm's actions: WaitPeriod, "
        "ExtensionPeriod or Alarm.",
    )
    actions_suppressed_reason: str | None = Field(None, alias="actionsSuppressedReason")

    _ts = field_validator("timestamp", mode="before")(_normalise_timestamp)

    @property
    def triggering_alarm_arns(self) -> list[str]:
        """For a composite alarm, the child alarms that triggered it (``reasonData.triggeringAlarms``)."""
        try:
            data = json.loads(self.reason_data or "{}")
        except ValueError:
            return []
        alarms = data.get("triggeringAlarms") if isinstance(data, dict) else None
        if not isinstance(alarms, list):
            return []
        return [str(a["arn"]) for a in alarms if isinstance(a, dict) and isinstance(a.get("arn"), str)]


class MetricIdentity(_EventModel):
    namespace: str = Field(..., examples=["AWS/Lambda"])
    name: str = Field(..., examples=["Errors"])
    dimensions: dict[str, str] = Field(default_factory=dict, examples=[{"FunctionName": "checkout-api"}])


class MetricStat(_EventModel):
    metric: MetricIdentity
    period: int = Field(..., gt=0, description="Period in seconds.")
    stat: str = Field(..., examples=["Sum", "Average", "p99"])
    unit: str | None = None


class AlarmMetric(_EventModel):
    """One entry of the alarm's metrics: a metric stat, or an expression (math or anomaly band)."""

    id: str
    metric_stat: MetricStat | None = Field(None, alias="metricStat")
    expression: str | None = Field(
        None, description="Metric math, e.g. 'm1/m2' or ANOMALY_DETECTION_BAND(m1, 2)."
    )
    label: str | None = None
    return_data: bool = Field(True, alias="returnData")

    @property
    def is_anomaly_band(self) -> bool:
        return bool(self.expression and self.expression.upper().startswith("ANOMALY_DETECTION_BAND"))


class AlarmConfiguration(_EventModel):
    description: str | None = None
    metrics: list[AlarmMetric] = Field(default_factory=list)
    alarm_rule: str | None = Field(None, alias="alarmRule", description="Composite alarms only.")
    threshold_metric_id: str | None = Field(None, alias="thresholdMetricId")


class AlarmDetail(_EventModel):
    alarm_name: str = Field(..., alias="alarmName", min_length=1, max_length=255)
    state: AlarmState
    previous_state: AlarmState | None = Field(None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)

    @property
    def is_composite(self) -> bool:
        return self.configuration.alarm_rule is not None


class AlarmStateChangeEvent(_EventModel):
    """An EventBridge event with detail-type "CloudWatch Alarm State Change" from aws.cloudwatch."""

    version: str = "0"
    id: str = Field(..., description="EventBridge event id.")
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(..., alias="detail-type")
    source: Literal["aws.cloudwatch"]
    account: str = Field(..., pattern=r"^\d{12}$")
    time: datetime
    region: str = Field(..., min_length=1)
    resources: list[str] = Field(..., min_length=1, description="The alarm ARN first.")
    detail: AlarmDetail

    _time = field_validator("time", mode="before")(_normalise_timestamp)

    @property
    def alarm_arn(self) -> str:
        return self.resources[0]

    @property
    def kind(self) -> Literal["composite", "anomaly_detection", "metric_math", "single_metric"]:
        config = self.detail.configuration
        if self.detail.is_composite:
            return "composite"
        if any(metric.is_anomaly_band for metric in config.metrics):
            return "anomaly_detection"
        if any(metric.expression for metric in config.metrics):
            return "metric_math"
        return "single_metric"
