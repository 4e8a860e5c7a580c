"""Admission: the alarm rule invokes Intake, which dedupes before any Standard execution starts.

The rule's target is the Intake function's alias, not the state machine. For each event Intake:
- screens it (``intake.screen``); a rejected event is kept verbatim (S3 when large) and an ignored one
  (suppressed actions, not opted in) noted; both start a short execution named after the event digest
  that ends at ``EventRejected`` / ``Ignored``, so every event still has a defined terminal state;
- takes the alarm's dedupe lock with a conditional write and opens the incident, whose id is derived
  from the alarm transition (the alarm and its ``state.timestamp``, ``transition_of``): a retried delivery,
  or any other copy of the same transition, computes the same id, finds its own lock and continues (it
  never opens a second incident nor folds into its own), and once that incident closed starts nothing;
- starts the flow (the state machine alias) with ``name`` = the incident id, so a retry never starts a
  second execution (ExecutionAlreadyExists is success), then extends the lock's lease to the backstop;
- folds a duplicate into the open incident with one atomic ADD and a metric: no execution, no state
  transition, no write to the incident's audit chain.

It also handles "Step Functions Execution Status Change" events (FAILED, TIMED_OUT, ABORTED) for the
flow: the execution's incident is escalated and its alarm's lock released (``release_for_execution``).
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from controlroom import __version__, aws
from controlroom.agents.intake import INTAKE, REJECTIONS, build_incident, reject, screen
from controlroom.contracts import IntakeResult, digest, utcnow
from controlroom.contracts.alarm import AlarmStateChangeEvent
from controlroom.errors import ConfigurationError, ControlroomError
from controlroom.metric_names import (
    DUPLICATES_WITHOUT_EXECUTION,
    EXECUTIONS_RELEASED,
    INCIDENTS_DEDUPLICATED,
    INCIDENTS_OPENED,
)
from controlroom.runtime import AgentContext, emit, logger, run_agent
from controlroom.runtime.agent import _record  # the runtime's record writer: same records as any agent
from controlroom.runtime.stores import stores
from controlroom.settings import settings as load_settings
from controlroom.store.incident_lock import STARTING

STATUS_CHANGE = "Step Functions Execution Status Change"
# The statuses that end an execution without Close or Escalate having released its lock.
UNCLOSED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def handle(event: Any, context: Any) -> dict[str, Any]:
    """Intake's entry point: the state machine's task, an alarm from the rule, or a status change."""
    if isinstance(event, dict) and "event" in event and "detail-type" not in event:
        return run_agent(INTAKE, event, context)
    if isinstance(event, dict) and event.get("detail-type") == STATUS_CHANGE:
        return released(event)
    return admit(event, context)


def released(event: dict[str, Any]) -> dict[str, Any]:
    """Escalate the incident of an execution that ended unclosed and free its alarm."""
    detail = event.get("detail") or {}
    status, execution_arn = str(detail.get("status", "")), str(detail.get("executionArn", ""))
    if status not in UNCLOSED_STATUSES or not execution_arn:
        return {"released": None, "status": status}
    incident_id = stores().checkpoint.release_for_execution(execution_arn, status)
    if incident_id:
        emit.count(EXECUTIONS_RELEASED)
        logger.warning("execution ended unclosed; lock released", incident_id=incident_id, status=status)
    return {"released": incident_id, "status": status}


def _context(context: Any) -> AgentContext:
    # Stop a little before Lambda would, like run_agent, so the decision record still gets written.
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 30_000)() / 1000
    return AgentContext(
        agent="intake",
        settings=load_settings(),
        stores=stores(),
        deadline=utcnow() + timedelta(seconds=max(1.0, remaining - 0.8)),
        function_version=str(getattr(context, "function_version", "$LATEST")),
    )


def _write_record(
    ctx: AgentContext, raw_event: Any, started: float, output: dict[str, Any] | None, error: Exception | None
) -> None:
    base = {
        "agent": "intake",
        "agent_version": __version__,
        "function_version": ctx.function_version,
        "flow_revision": ctx.settings.FLOW_REVISION or None,
        "started_at": utcnow(),
        "input_digest": digest(raw_event),
        "context_passed": ["event"],
    }
    _record(ctx, base, [], started, status="error" if error else "ok", output=output, error=error)


def _start(settings_arn: str, name: str, payload: dict[str, Any]) -> str:
    """Start the flow under ``name``; a name already taken (a retry, a replay) is success."""
    if not settings_arn:
        raise ConfigurationError("STATE_MACHINE_ALIAS_ARN is not set: Intake cannot start the flow")
    try:
        response = aws.client("stepfunctions").start_execution(
            stateMachineArn=settings_arn, name=name, input=json.dumps(payload, sort_keys=True)
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return "already-started"
    return str(response["executionArn"])


def _execution_arn(alias_arn: str, name: str) -> str:
    # arn:aws:states:r:a:stateMachine:<machine>:<alias> -> arn:aws:states:r:a:execution:<machine>:<name>
    parts = alias_arn.split(":")
    if len(parts) < 7:
        return ""
    return ":".join([*parts[:5], "execution", parts[6], name])


def _event_name(prefix: str, event_digest: str) -> str:
    return _NAME_UNSAFE.sub("-", f"{prefix}-{event_digest[:40]}")[:80]


def _rejected(raw_event: Any, exc: ControlroomError, ctx: AgentContext, started: float) -> dict[str, Any]:
    error = reject(raw_event, exc, ctx)
    _write_record(ctx, raw_event, started, None, error)
    event_digest = digest(raw_event)
    admission = {
        "outcome": "rejected",
        "error": type(error).__name__,
        "reason": str(error)[:2000],
        "event_digest": event_digest,
    }
    # The raw event is not passed on: it is kept already, and it may be too large for the flow state.
    _start(
        ctx.settings.STATE_MACHINE_ALIAS_ARN, _event_name("rejected", event_digest), {"admission": admission}
    )
    return {"outcome": "rejected", "error": type(error).__name__, "event_digest": event_digest}


def _ignored(raw_event: Any, reason: str, ctx: AgentContext) -> dict[str, Any]:
    event_digest = digest(raw_event)
    admission = {"outcome": "ignored", "reason": reason, "event_digest": event_digest}
    _start(
        ctx.settings.STATE_MACHINE_ALIAS_ARN, _event_name("ignored", event_digest), {"admission": admission}
    )
    return {"outcome": "ignored", "reason": reason}


def _folded(incident_id: str, ctx: AgentContext) -> dict[str, Any]:
    folded = ctx.stores.checkpoint.count_duplicate(incident_id)
    emit.count(INCIDENTS_DEDUPLICATED)
    if not folded.execution_running:
        # Folded into an incident nobody works: the ops alarm on this metric pages a human.
        emit.count(DUPLICATES_WITHOUT_EXECUTION)
        logger.warning(
            "duplicate folded into an incident whose execution is not running",
            incident_id=incident_id,
            execution_state=folded.execution_state,
        )
    return {"outcome": "duplicate", "duplicate_of": incident_id, "duplicates": folded.duplicates}


def transition_of(event: AlarmStateChangeEvent) -> str:
    """What makes an alarm event unique: the alarm and the moment it entered ALARM.

    The incident id derives from it, not from the EventBridge event id, so every copy of one transition
    (a redelivery, an archive replay, a second bus forwarding it) is the same incident: folded into it while
    it is open, and ``replayed`` (nothing starts) once it has closed. A new transition is a new incident.
    """
    return f"{event.alarm_arn}@{event.detail.state.timestamp.isoformat()}"


def admit(raw_event: Any, context: Any) -> dict[str, Any]:
    """Admit one event from the alarm rule; return what happened (for logs and tests)."""
    started = time.perf_counter()
    ctx = _context(context)
    try:
        screened = screen(raw_event, ctx)
    except REJECTIONS as exc:
        return _rejected(raw_event, exc, ctx, started)
    if screened.ignored:
        return _ignored(raw_event, screened.ignored, ctx)
    event = screened.event
    incident = build_incident(event, ctx.settings, utcnow(), screened.resource, owner=transition_of(event))
    alias_arn = ctx.settings.STATE_MACHINE_ALIAS_ARN
    execution_arn = _execution_arn(alias_arn, incident.incident_id)
    opened = ctx.stores.checkpoint.open_incident(
        incident, execution_arn or None, execution_state=STARTING, event_id=event.id
    )
    if opened.replayed:
        # This very event opened an incident that has since closed (a late retry of the delivery).
        return {"outcome": "replayed", "incident_id": opened.incident_id}
    if not opened.opened:
        return _folded(opened.incident_id, ctx)
    if opened.resumed:  # a retried delivery: continue the incident it opened, with the same flow input
        incident = ctx.stores.checkpoint.get_incident(opened.incident_id).incident
    ctx.incident_id = incident.incident_id
    result = IntakeResult(outcome="opened", incident=incident, reason=event.detail.state.reason[:500])
    payload = {"admission": {"outcome": "opened"}, "intake": result.model_dump(mode="json")}
    started_arn = _start(alias_arn, incident.incident_id, payload)
    ctx.stores.checkpoint.mark_started(incident, ctx.settings.lock_lease_seconds)
    if not opened.resumed:
        ctx.summary = f"opened {incident.incident_id} for {incident.resource.kind}:{incident.resource.name}"
        _write_record(ctx, raw_event, started, result.model_dump(mode="json"), None)
        emit.count(INCIDENTS_OPENED)
    return {"outcome": "opened", "incident_id": incident.incident_id, "execution": started_arn}
