"""The Intake agent: normalise an alarm event, drop storms, open the incident checkpoint."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from controlroom import aws
from controlroom.contracts import (
    AlarmStateChangeEvent,
    IncidentRef,
    IntakeResult,
    ResourceRef,
    digest,
    utcnow,
)
from controlroom.contracts.flow import IntakeInput
from controlroom.errors import UnsupportedEvent
from controlroom.metric_names import INCIDENTS_DEDUPLICATED, INCIDENTS_OPENED
from controlroom.resources import alarm_summary_of, resource_of
from controlroom.runtime import AgentContext, AgentSpec, emit
from controlroom.settings import Settings
from controlroom.tools.alarm_opt_in import alarm_tags, opted_in

_MAX_PROBLEMS = 3


def _describe_problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:_MAX_PROBLEMS]:
        where = ".".join(str(part) for part in error["loc"]) or "event"
        if error["type"] == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            problems.append(f"{where}: expected {expected}, got {str(error.get('input'))[:80]!r}")
        else:
            problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def parse_alarm_event(raw_event: Any) -> AlarmStateChangeEvent:
    """Validate a raw EventBridge event as a CloudWatch alarm state change.

    Raises
    ------
    UnsupportedEvent
        With the first problems found, e.g. ``detail-type: expected 'CloudWatch Alarm State Change'``.
    """
    if not isinstance(raw_event, dict):
        raise UnsupportedEvent(f"event: expected a JSON object, got {type(raw_event).__name__}")
    try:
        return AlarmStateChangeEvent.model_validate(raw_event)
    except ValidationError as exc:
        raise UnsupportedEvent(_describe_problems(exc)) from None


def dedupe_key_of(alarm_arn: str, resource: ResourceRef) -> str:
    """One open incident per alarm and resource: sha256 of the ARN and the resource's identity."""
    identity = f"{alarm_arn}|{resource.kind}/{resource.name}/{resource.qualifier or ''}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def build_incident(event: AlarmStateChangeEvent, settings: Settings, now: datetime) -> IncidentRef:
    """The incident an ALARM event opens, with a fresh random id and its deadline."""
    resource = resource_of(event)
    return IncidentRef(
        incident_id="inc-" + secrets.token_hex(8),
        environment=settings.ENVIRONMENT,
        account=event.account,
        region=event.region,
        alarm=alarm_summary_of(event),
        resource=resource,
        dedupe_key=dedupe_key_of(event.alarm_arn, resource),
        opened_at=now,
        deadline_at=now + timedelta(seconds=settings.INCIDENT_TIME_BUDGET_SECONDS),
    )


def _reject(raw_event: Any, problem: str, ctx: AgentContext) -> UnsupportedEvent:
    event_digest = digest(raw_event)
    message = f"{problem} (event digest {event_digest})"
    ctx.stores.checkpoint.put_rejected_event(event_digest, raw_event, "UnsupportedEvent", message)
    # The runtime's error record then lands on this chain, findable from the digest.
    ctx.incident_id = "event:" + event_digest[:16]
    ctx.summary = f"rejected: {problem}"[:300]
    return UnsupportedEvent(message)


def intake(request: IntakeInput, ctx: AgentContext) -> IntakeResult:
    """Open an incident for an ALARM transition, fold duplicates into the open one, ignore the rest.

    Raises
    ------
    UnsupportedEvent
        The event is not a CloudWatch alarm state change; it is kept verbatim under its digest first.
    """
    try:
        event = parse_alarm_event(request.event)
    except UnsupportedEvent as exc:
        raise _reject(request.event, str(exc), ctx) from None
    state = event.detail.state.value
    if state != "ALARM":
        ctx.summary = f"ignored: {event.detail.alarm_name} entered {state}"
        return IntakeResult(outcome="ignored", reason=f"alarm state is {state}, not ALARM")
    opt_in = ctx.settings.ALARM_OPT_IN_TAG
    if opt_in:
        with ctx.tool("cloudwatch.list_tags_for_resource") as call:
            tags = alarm_tags(aws.client("cloudwatch"), event.alarm_arn)
            call.summary = "alarm not found" if tags is None else f"{len(tags)} tag(s)"
        if not opted_in(tags, opt_in):
            ctx.summary = f"ignored: {event.detail.alarm_name} is not tagged {opt_in}"
            return IntakeResult(outcome="ignored", reason=f"alarm is not opted in (tag {opt_in})")
    incident = build_incident(event, ctx.settings, utcnow())
    ctx.check_time()
    with ctx.tool("checkpoint.open_incident") as call:
        opened = ctx.stores.checkpoint.open_incident(incident, request.execution_arn)
        call.summary = "opened" if opened.opened else f"duplicate of {opened.incident_id}"
    if opened.opened:
        ctx.incident_id = incident.incident_id
        ctx.summary = f"opened {incident.incident_id} for {incident.resource.kind}:{incident.resource.name}"
        emit.count(INCIDENTS_OPENED)
        return IntakeResult(outcome="opened", incident=incident, reason=event.detail.state.reason[:500])
    ctx.incident_id = opened.incident_id or None
    ctx.summary = f"duplicate of {opened.incident_id}"
    emit.count(INCIDENTS_DEDUPLICATED)
    return IntakeResult(
        outcome="duplicate",
        duplicate_of=opened.incident_id or None,
        reason=f"an incident is already open for {event.detail.alarm_name}",
    )


INTAKE: AgentSpec[IntakeInput, IntakeResult] = AgentSpec(
    name="intake",
    input_model=IntakeInput,
    output_model=IntakeResult,
    logic=intake,
    summarise=lambda result: result.outcome,
)
