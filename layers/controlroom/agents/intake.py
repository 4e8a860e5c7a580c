"""The Intake agent: screen an alarm event, open its incident (or fold it into the open one), keep rejects.

Screening is shared by both ways an event arrives: the alarm rule invoking Intake directly (see
``controlroom.agents.admission``, the production path) and the state machine's own Intake task (an
execution started with a raw event, e.g. a replay).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from controlroom import aws
from controlroom.contracts import (
    AlarmStateChangeEvent,
    IncidentRef,
    IntakeResult,
    ResourceRef,
    canonical_json,
    digest,
    utcnow,
)
from controlroom.contracts.flow.base import IntakeInput
from controlroom.errors import AlarmClockSkew, ControlroomError, EventTooLarge, UnsupportedEvent
from controlroom.metric_names import INCIDENTS_DEDUPLICATED, INCIDENTS_OPENED
from controlroom.resources import alarm_summary_of, resource_of, resource_of_composite
from controlroom.runtime import AgentContext, AgentSpec, emit
from controlroom.settings import Settings
from controlroom.tools.alarm_opt_in import alarm_tags, opted_in

_MAX_PROBLEMS = 3
# Rejected events larger than this go to S3 (REJECTED_EVENT_BUCKET); a DynamoDB item holds 400 KB at most.
INLINE_REJECTED_EVENT_BYTES = 100_000
# The errors that end an event at EventRejected (the ASL catches these names).
REJECTIONS = (UnsupportedEvent, EventTooLarge, AlarmClockSkew)


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


def event_size(raw_event: Any) -> int:
    """Bytes of the event's canonical JSON (what the flow state would carry)."""
    return len(canonical_json(raw_event).encode("utf-8"))


def check_size(raw_event: Any, settings: Settings) -> None:
    """Raise EventTooLarge for an event near or over the payload limit (MAX_EVENT_BYTES)."""
    size = event_size(raw_event)
    if size > settings.MAX_EVENT_BYTES:
        raise EventTooLarge(
            f"event is {size} bytes, over the {settings.MAX_EVENT_BYTES}-byte limit (Step Functions and "
            "Lambda payloads stop at 256 KB)"
        )


def check_clock(event: AlarmStateChangeEvent, settings: Settings, now: datetime) -> None:
    """Raise AlarmClockSkew when the alarm's timestamps are further from now than the configured skew."""
    allowed = settings.ALARM_MAX_CLOCK_SKEW_SECONDS
    for label, moment in (("detail.state.timestamp", event.detail.state.timestamp), ("time", event.time)):
        skew = abs((now - moment).total_seconds())
        if skew > allowed:
            direction = "ahead of" if moment > now else "behind"
            raise AlarmClockSkew(
                f"{label} {moment.isoformat()} is {int(skew)} s {direction} now (ALARM_MAX_CLOCK_SKEW_SECONDS "
                f"is {allowed})"
            )


def dedupe_key_of(alarm_arn: str, resource: ResourceRef) -> str:
    """One open incident per alarm and resource: sha256 of the ARN and the resource's identity."""
    identity = f"{alarm_arn}|{resource.kind}/{resource.name}/{resource.qualifier or ''}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def incident_id_for(owner: str | None, dedupe_key: str) -> str:
    """The incident id its owner (the alarm transition, ``admission.transition_of``, or an execution ARN) always
    gets for an alarm.

    A retried Intake for the same owner computes the same id and so continues its own incident; without
    an owner the id is random.
    """
    if not owner:
        return "inc-" + secrets.token_hex(8)
    return "inc-" + hashlib.sha256(f"{owner}|{dedupe_key}".encode()).hexdigest()[:16]


def build_incident(
    event: AlarmStateChangeEvent,
    settings: Settings,
    now: datetime,
    resource: ResourceRef | None = None,
    owner: str | None = None,
) -> IncidentRef:
    """The incident an ALARM event opens, with its id and its deadline."""
    resource = resource or resource_of(event)
    dedupe_key = dedupe_key_of(event.alarm_arn, resource)
    return IncidentRef(
        incident_id=incident_id_for(owner, dedupe_key),
        environment=settings.ENVIRONMENT,
        account=event.account,
        region=event.region,
        alarm=alarm_summary_of(event),
        resource=resource,
        dedupe_key=dedupe_key,
        opened_at=now,
        deadline_at=now + timedelta(seconds=settings.INCIDENT_TIME_BUDGET_SECONDS),
    )


@dataclass(frozen=True)
class Screened:
    """An event that passed screening: either to open (with its resource) or to ignore (with the reason)."""

    event: AlarmStateChangeEvent
    resource: ResourceRef | None = None
    ignored: str | None = None


def _ignore_reason(event: AlarmStateChangeEvent, settings: Settings) -> str | None:
    detail = event.detail
    if detail.state.value != "ALARM":
        return f"alarm state is {detail.state.value}, not ALARM"
    if detail.state.actions_suppressed_by:
        why = detail.state.actions_suppressed_reason or "no reason given"
        return f"the alarm's actions are suppressed by {detail.state.actions_suppressed_by}: {why}"
    previous = detail.previous_state.value if detail.previous_state else None
    if previous == "INSUFFICIENT_DATA" and settings.ALARM_FROM_INSUFFICIENT_DATA == "ignore":
        return "INSUFFICIENT_DATA -> ALARM is ignored (ALARM_FROM_INSUFFICIENT_DATA=ignore)"
    return None


def _composite_resource(event: AlarmStateChangeEvent, ctx: AgentContext) -> ResourceRef | None:
    try:
        with ctx.tool("cloudwatch.describe_alarms") as call:
            found = resource_of_composite(event, aws.client("cloudwatch"))
            call.summary = f"{found.kind}:{found.name}" if found else "no child names a resource"
    except (ClientError, BotoCoreError):
        return None  # recorded as a failed tool call; the incident keeps kind "unknown"
    return found


def screen(raw_event: Any, ctx: AgentContext) -> Screened:
    """Parse and check an event; say whether it opens an incident, and on which resource.

    Raises
    ------
    UnsupportedEvent, EventTooLarge, AlarmClockSkew
        The event is rejected (the caller keeps it verbatim with ``reject``).
    """
    check_size(raw_event, ctx.settings)
    event = parse_alarm_event(raw_event)
    ignored = _ignore_reason(event, ctx.settings)
    if ignored:
        return Screened(event=event, ignored=ignored)
    check_clock(event, ctx.settings, utcnow())
    opt_in = ctx.settings.ALARM_OPT_IN_TAG
    if opt_in:
        with ctx.tool("cloudwatch.list_tags_for_resource") as call:
            tags = alarm_tags(aws.client("cloudwatch"), event.alarm_arn)
            call.summary = "alarm not found" if tags is None else f"{len(tags)} tag(s)"
        if not opted_in(tags, opt_in):
            return Screened(event=event, ignored=f"alarm is not opted in (tag {opt_in})")
    resource = _composite_resource(event, ctx) if event.detail.is_composite else None
    return Screened(event=event, resource=resource or resource_of(event))


def _keep_large_event(raw_event: Any, event_digest: str, settings: Settings) -> str | None:
    text = canonical_json(raw_event).encode("utf-8")
    if len(text) <= INLINE_REJECTED_EVENT_BYTES or not settings.REJECTED_EVENT_BUCKET:
        return None
    key = f"rejected/{event_digest}.json"
    aws.client("s3").put_object(
        Bucket=settings.REJECTED_EVENT_BUCKET, Key=key, Body=text, ContentType="application/json"
    )
    return f"s3://{settings.REJECTED_EVENT_BUCKET}/{key}"


def reject(raw_event: Any, error: ControlroomError, ctx: AgentContext) -> ControlroomError:
    """Keep a rejected event verbatim under its digest (in S3 when large) and name its chain."""
    event_digest = digest(raw_event)
    message = f"{error} (event digest {event_digest})"
    location = _keep_large_event(raw_event, event_digest, ctx.settings)
    ctx.stores.checkpoint.put_rejected_event(
        event_digest, raw_event, type(error).__name__, message, raw_event_location=location
    )
    # The runtime's error record then lands on this chain, findable from the digest.
    ctx.incident_id = "event:" + event_digest[:16]
    ctx.summary = f"rejected: {error}"[:300]
    return type(error)(message)


def intake(request: IntakeInput, ctx: AgentContext) -> IntakeResult:
    """The state machine's Intake task: open an incident for an ALARM, fold duplicates, ignore the rest.

    Raises
    ------
    UnsupportedEvent, EventTooLarge, AlarmClockSkew
        The event is rejected; it is kept verbatim under its digest first.
    """
    try:
        screened = screen(request.event, ctx)
    except REJECTIONS as exc:
        raise reject(request.event, exc, ctx) from None
    event = screened.event
    if screened.ignored:
        ctx.summary = f"ignored: {event.detail.alarm_name}: {screened.ignored}"[:300]
        return IntakeResult(outcome="ignored", reason=screened.ignored)
    incident = build_incident(event, ctx.settings, utcnow(), screened.resource, owner=request.execution_arn)
    ctx.check_time()
    with ctx.tool("checkpoint.open_incident") as call:
        opened = ctx.stores.checkpoint.open_incident(
            incident, request.execution_arn, lease_seconds=ctx.settings.lock_lease_seconds
        )
        call.summary = (
            ("resumed" if opened.resumed else "opened")
            if opened.opened
            else f"duplicate of {opened.incident_id}"
        )
    if opened.opened:
        if opened.resumed:  # this execution's own incident, from an earlier attempt of this task
            incident = ctx.stores.checkpoint.get_incident(opened.incident_id).incident
        ctx.incident_id = incident.incident_id
        ctx.summary = f"opened {incident.incident_id} for {incident.resource.kind}:{incident.resource.name}"
        if not opened.resumed:
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
