"""Collect each incident's history for the scorecard: the proposal, the humans' actions, recovery, cost.

Sources: the checkpoint table (incident, decision records, approval), the audit chain (answers),
CloudTrail (the humans' own changes on the incident's resources after the alarm) and CloudWatch
(whether the alarm recovered). A source that cannot be read is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from controlroom.autonomy.answers import HUMAN_ACTION_KIND
from controlroom.autonomy.scorecard import HumanAction, IncidentHistory
from controlroom.contracts import DecisionRecord, IncidentRef
from controlroom.errors import ControlroomError
from controlroom.store import AuditLog, DynamoCheckpointStore

_NEVER = datetime.max.replace(tzinfo=UTC)
# CloudTrail write events that amount to one of the catalog's actions; any other write is "other".
CHANGE_KINDS = {
    "UpdateAlias": "rollback_lambda_alias",
    "UpdateService": "rollback_ecs_service",
    "StopDeployment": "stop_codedeploy_deployment",
    "StartAutomationExecution": "run_ssm_automation",
}


def incident_ids(table: Any) -> Iterator[str]:
    """Every incident id in the checkpoint table (a filtered scan: the CLI runs it, no agent)."""
    kwargs: dict[str, Any] = {
        "FilterExpression": "sk = :meta AND begins_with(pk, :prefix)",
        "ExpressionAttributeValues": {":meta": "META", ":prefix": "INCIDENT#"},
        "ProjectionExpression": "pk",
    }
    while True:
        page = table.scan(**kwargs)
        for item in page.get("Items", []):
            yield str(item["pk"]).removeprefix("INCIDENT#")
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def cloudtrail_changes(
    cloudtrail: Any, resource_names: list[str], start: datetime, end: datetime, own_prefix: str
) -> list[HumanAction]:
    """Write events on the named resources in [start, end] not made by controlroom's own roles."""
    actions: list[HumanAction] = []
    for name in resource_names:
        kwargs: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": name}],
            "StartTime": start,
            "EndTime": end,
        }
        for _ in range(10):
            page = cloudtrail.lookup_events(**kwargs)
            for event in page.get("Events", []):
                if str(event.get("ReadOnly", "false")).lower() == "true":
                    continue
                actor = str(event.get("Username", ""))
                if own_prefix and own_prefix in actor:
                    continue  # Execute's own change is the proposal carried out, not a human's
                actions.append(
                    HumanAction(
                        verdict="changed",
                        source="cloudtrail",
                        actor=actor,
                        at=event.get("EventTime"),
                        kind=CHANGE_KINDS.get(str(event.get("EventName")), "other"),
                        detail=f"{event.get('EventName')} on {name}",
                    )
                )
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return actions


def alarm_recovered(cloudwatch: Any, alarm_name: str, start: datetime, end: datetime) -> bool:
    """Whether the alarm went to OK in [start, end] (its history; else its current state)."""
    try:
        history = cloudwatch.describe_alarm_history(
            AlarmName=alarm_name, HistoryItemType="StateUpdate", StartDate=start, EndDate=end
        )
        items = history.get("AlarmHistoryItems", [])
        if items:
            return any("to OK" in str(item.get("HistorySummary", "")) for item in items)
    except (ClientError, BotoCoreError, NotImplementedError):
        pass
    alarms = cloudwatch.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    return (
        bool(alarms) and alarms[0].get("StateValue") == "OK" and alarms[0]["StateUpdatedTimestamp"] >= start
    )


def _proposal(steps: list[DecisionRecord]) -> tuple[list[str], datetime | None, str]:
    plan = next((s for s in steps if s.agent == "plan" and s.status == "ok" and s.output), None)
    policy = next((s for s in steps if s.agent == "policy" and s.status == "ok" and s.output), None)
    kinds = [str(a["type"]) for a in (plan.output or {}).get("actions", [])] if plan else []
    proposed_at = plan.started_at + timedelta(milliseconds=plan.duration_ms) if plan else None
    mode = str((policy.output or {}).get("autonomy_mode", "unknown")) if policy else "unknown"
    return kinds, proposed_at, mode


def _approval_actions(checkpoint: DynamoCheckpointStore, incident_id: str) -> list[HumanAction]:
    approval_id = checkpoint.incident_approval_id(incident_id)
    if not approval_id:
        return []
    record = checkpoint.get_approval(approval_id)
    if record.outcome is None or not record.votes:
        return []
    last = record.votes[-1]
    verdict = "approved" if record.outcome == "approve" else "rejected"
    return [HumanAction(verdict=verdict, source="approval", actor=last.approver, at=last.decided_at)]


def _answers(audit: AuditLog, incident_id: str) -> list[HumanAction]:
    return [
        HumanAction(
            verdict=record.payload["answer"],
            source="cli" if record.payload.get("source") == "cli" else "approval_page",
            actor=record.actor,
            at=datetime.fromisoformat(record.recorded_at),
        )
        for record in audit.records(incident_id)
        if record.kind == HUMAN_ACTION_KIND
    ]


def _resource_names(incident: IncidentRef, steps: list[DecisionRecord]) -> list[str]:
    names = [incident.resource.name]
    for step in steps:
        if step.agent == "plan" and step.output:
            for action in step.output.get("actions", []):
                names += [
                    str(action[k]) for k in ("function_name", "service", "deployment_id") if k in action
                ]
    return list(dict.fromkeys(names))


def incident_history(
    incident_id: str,
    checkpoint: DynamoCheckpointStore,
    audit: AuditLog,
    *,
    cloudtrail: Any | None,
    cloudwatch: Any | None,
    window: timedelta,
    own_prefix: str,
) -> tuple[IncidentHistory, list[str]]:
    """One incident's history and the notes on sources that could not be read."""
    incident = checkpoint.get_incident(incident_id).incident
    steps = sorted(checkpoint.steps(incident_id), key=lambda record: record.step)
    kinds, proposed_at, mode = _proposal(steps)
    start, end = incident.alarm.fired_at, incident.alarm.fired_at + window
    human = [*_approval_actions(checkpoint, incident_id), *_answers(audit, incident_id)]
    notes: list[str] = []
    if cloudtrail is not None:
        try:
            human += cloudtrail_changes(cloudtrail, _resource_names(incident, steps), start, end, own_prefix)
        except (ClientError, BotoCoreError, NotImplementedError, ControlroomError) as exc:
            notes.append(f"{incident_id}: CloudTrail not read ({exc.__class__.__name__})")
    verified = any(s.agent == "verify" and (s.output or {}).get("recovered") for s in steps)
    recovered = verified
    if not verified and cloudwatch is not None:
        try:
            recovered = alarm_recovered(cloudwatch, incident.alarm.alarm_name, start, end)
        except (ClientError, BotoCoreError) as exc:
            notes.append(f"{incident_id}: alarm state not read ({exc.__class__.__name__})")
    history = IncidentHistory(
        incident_id=incident_id,
        mode=mode,
        alarm_at=incident.alarm.fired_at,
        proposed_at=proposed_at,
        proposed=kinds,
        human=sorted(human, key=lambda h: h.at or _NEVER),
        recovered=recovered,
        cost_usd=round(sum(s.cost_usd for s in steps), 6),
    )
    return history, notes
