"""Admission (the alarm rule invokes Intake): idempotent per event, leased locks, counted duplicates,
released locks, and every rejected or ignored event ending at a defined state."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controlroom.agents import admission
from controlroom.contracts import IncidentStatus, digest, utcnow
from controlroom.local.world import restamp
from controlroom.metric_names import DUPLICATES_WITHOUT_EXECUTION, INCIDENTS_DEDUPLICATED
from controlroom.runtime import metrics, stores
from controlroom.store import incident_lock

from . import emf

EVENTS = Path(__file__).resolve().parents[2] / "events"
ALIAS = "arn:aws:states:us-east-1:123456789012:stateMachine:controlroom-test-incident-response:test"


def alarm(name: str = "alarm_lambda_errors.json", event_id: str = "evt-1") -> dict[str, Any]:
    event = restamp(json.loads((EVENTS / name).read_text()))
    event["id"] = event_id
    return event


class Starts:
    """Records StartExecution calls; ``fail`` makes the next one raise (Intake crashing after the lock)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = False

    def __call__(self, arn: str, name: str, payload: dict[str, Any]) -> str:
        if self.fail:
            self.fail = False
            raise ConnectionError("Intake died before StartExecution")
        self.calls.append((name, payload))
        return f"{arn}:{name}"


@pytest.fixture
def starts(aws, monkeypatch) -> Starts:
    monkeypatch.setenv("STATE_MACHINE_ALIAS_ARN", ALIAS)
    recorder = Starts()
    monkeypatch.setattr(admission, "_start", recorder)
    return recorder


def test_a_retried_delivery_continues_its_own_incident(starts, lambda_context):
    # Given Intake took the lock and then died before starting the flow
    starts.fail = True
    event = alarm()
    with pytest.raises(ConnectionError):
        admission.handle(event, lambda_context)
    # When Lambda retries the same event
    retried = admission.handle(event, lambda_context)
    # Then the retry continues that incident and starts its flow, named after it
    assert retried["outcome"] == "opened"
    ((name, payload),) = starts.calls
    assert name == retried["incident_id"]
    assert payload["intake"]["incident"]["incident_id"] == name
    # And a later retry starts the same name with the same input (StartExecution is idempotent on both)
    assert admission.handle(event, lambda_context)["incident_id"] == name
    assert starts.calls[1] == starts.calls[0]


def test_another_event_of_the_alarm_is_folded_and_counted_without_an_audit_write(
    starts, lambda_context, capsys
):
    opened = admission.handle(alarm(event_id="evt-1"), lambda_context)
    emf.flush(capsys)
    audit_before = stores().audit.records(opened["incident_id"])
    # When two more events of the same alarm arrive
    for event_id in ("evt-2", "evt-3"):
        folded = admission.handle(alarm(event_id=event_id), lambda_context)
    # Then they are counted on the incident, start nothing and leave its audit chain alone
    assert folded == {"outcome": "duplicate", "duplicate_of": opened["incident_id"], "duplicates": 2}
    assert len(starts.calls) == 1
    assert stores().audit.records(opened["incident_id"]) == audit_before
    emitted = emf.flush(capsys)
    assert emitted.values(INCIDENTS_DEDUPLICATED) == [1.0, 1.0]
    assert not emitted.has(DUPLICATES_WITHOUT_EXECUTION)


def test_a_duplicate_of_an_incident_nobody_works_is_counted_for_the_ops_alarm(starts, lambda_context, capsys):
    opened = admission.handle(alarm(event_id="evt-1"), lambda_context)
    table = stores().checkpoint._table
    # Given the execution ended without anyone releasing the lock (a lost status-change event)
    incident_lock.record_execution_end(table, opened["incident_id"], "FAILED")
    emf.flush(capsys)
    # When the alarm fires again
    folded = admission.handle(alarm(event_id="evt-2"), lambda_context)
    # Then it is folded, and counted as a duplicate without an execution
    assert folded["outcome"] == "duplicate"
    assert emf.flush(capsys).values(DUPLICATES_WITHOUT_EXECUTION) == [1.0]


def test_an_expired_lease_lets_the_next_alarm_open_a_new_incident(starts, lambda_context, monkeypatch):
    # Given an incident whose lock's lease has run out (nothing released it)
    opened = admission.handle(alarm(event_id="evt-1"), lambda_context)
    table = stores().checkpoint._table
    meta = stores().checkpoint.get_incident(opened["incident_id"]).incident
    table.update_item(
        Key=incident_lock.lock_key(meta.dedupe_key),
        UpdateExpression="SET lease_expires_at = :past",
        ExpressionAttributeValues={":past": int((utcnow() - timedelta(seconds=1)).timestamp())},
    )
    # When the alarm fires again
    again = admission.handle(alarm(event_id="evt-2"), lambda_context)
    # Then the lock is taken over by a new incident
    assert again["outcome"] == "opened" and again["incident_id"] != opened["incident_id"]


def test_a_started_incident_is_leased_for_the_execution_backstop(starts, lambda_context, monkeypatch):
    monkeypatch.setenv("INCIDENT_TIME_BUDGET_SECONDS", "900")
    monkeypatch.setenv("APPROVAL_TIMEOUT_SECONDS", "600")
    opened = admission.handle(alarm(), lambda_context)
    meta = stores().checkpoint.get_incident(opened["incident_id"]).incident
    lock = stores().checkpoint._table.get_item(Key=incident_lock.lock_key(meta.dedupe_key))["Item"]
    # budget + approval wait + escalation margin (the backstop), plus the margin again
    expected = utcnow().timestamp() + 900 + 600 + 300 + 300
    assert abs(int(lock["lease_expires_at"]) - expected) < 5


def test_an_execution_that_failed_releases_its_lock_and_escalates(starts, lambda_context):
    opened = admission.handle(alarm(event_id="evt-1"), lambda_context)
    execution_arn = (
        ALIAS.replace(":stateMachine:", ":execution:").rsplit(":", 1)[0] + f":{opened['incident_id']}"
    )
    # When the flow's execution FAILED (the status-change rule invokes Intake)
    status_change = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {"executionArn": execution_arn, "status": "FAILED"},
    }
    assert admission.handle(status_change, lambda_context) == {
        "released": opened["incident_id"],
        "status": "FAILED",
    }
    # Then the incident is escalated and the next alarm event opens a new one
    assert stores().checkpoint.get_incident(opened["incident_id"]).status is IncidentStatus.ESCALATED
    assert admission.handle(alarm(event_id="evt-2"), lambda_context)["outcome"] == "opened"


@pytest.mark.parametrize("raw", [[1, 2], "an alarm", None])
def test_a_non_object_event_is_kept_and_ends_rejected(starts, lambda_context, raw):
    result = admission.admit(raw, lambda_context)
    assert result["outcome"] == "rejected" and result["error"] == "UnsupportedEvent"
    kept = stores().checkpoint.rejected_event(digest(raw))
    assert kept["raw_event"] == raw
    ((name, payload),) = starts.calls
    assert name.startswith("rejected-") and payload["admission"]["outcome"] == "rejected"


def test_an_oversized_event_is_kept_in_full_in_s3(starts, lambda_context, monkeypatch, aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="rejected-events")
    monkeypatch.setenv("REJECTED_EVENT_BUCKET", "rejected-events")
    event = alarm()
    event["detail"]["configuration"]["description"] = "x" * 260_000
    result = admission.handle(event, lambda_context)
    assert result["error"] == "EventTooLarge"
    kept = stores().checkpoint.rejected_event(result["event_digest"])
    assert kept["raw_event_location"] == f"s3://rejected-events/rejected/{result['event_digest']}.json"
    body = s3.get_object(Bucket="rejected-events", Key=f"rejected/{result['event_digest']}.json")["Body"]
    assert json.loads(body.read()) == event
    # And the execution it starts carries no copy of it (the flow state stays small)
    ((_, payload),) = starts.calls
    assert len(json.dumps(payload)) < 10_000


def test_an_alarm_far_from_now_is_rejected_by_name(starts, lambda_context, monkeypatch):
    monkeypatch.setenv("ALARM_MAX_CLOCK_SKEW_SECONDS", "600")
    stale = restamp(alarm(), utcnow() - timedelta(hours=1))
    assert admission.handle(stale, lambda_context)["error"] == "AlarmClockSkew"
    future = restamp(alarm(), utcnow() + timedelta(hours=1))
    assert admission.handle(future, lambda_context)["error"] == "AlarmClockSkew"
    assert admission.handle(alarm(), lambda_context)["outcome"] == "opened"


def test_a_late_retry_of_an_event_whose_incident_closed_is_not_paged_as_orphaned(
    starts, lambda_context, capsys
):
    event = alarm(event_id="evt-1")
    opened = admission.handle(event, lambda_context)
    stores().checkpoint.set_status(opened["incident_id"], IncidentStatus.RESOLVED, "done")
    emf.flush(capsys)
    # When EventBridge delivers the same event again after the incident closed
    again = admission.handle(event, lambda_context)
    # Then nothing new starts and no ops metric claims an unworked incident
    assert again == {"outcome": "replayed", "incident_id": opened["incident_id"]}
    assert len(starts.calls) == 1
    assert DUPLICATES_WITHOUT_EXECUTION not in metrics.metric_set


def test_a_copy_of_a_handled_transition_under_another_event_id_opens_nothing(starts, lambda_context):
    # Given an alarm transition whose incident was opened, worked and closed
    transition = alarm(event_id="evt-1")
    opened = admission.handle(transition, lambda_context)
    stores().checkpoint.set_status(opened["incident_id"], IncidentStatus.RESOLVED, "done")
    incident_lock.release_lock(
        stores().checkpoint._table,
        stores().checkpoint.get_incident(opened["incident_id"]).incident.dedupe_key,
        opened["incident_id"],
    )
    # When the same transition arrives again under another EventBridge id (an archive replay, a second bus)
    copy = {**transition, "id": "evt-copy"}
    again = admission.handle(copy, lambda_context)
    # Then it is that incident again, already closed: nothing starts and no second incident opens
    assert again == {"outcome": "replayed", "incident_id": opened["incident_id"]}
    assert len(starts.calls) == 1
    # While a new transition of the same alarm (a later state.timestamp) is a new incident
    later = restamp(transition, utcnow() + timedelta(seconds=5))
    fresh = admission.handle({**later, "id": "evt-2"}, lambda_context)
    assert fresh["outcome"] == "opened" and fresh["incident_id"] != opened["incident_id"]


def test_a_copy_of_an_open_transition_under_another_event_id_is_a_counted_duplicate(starts, lambda_context):
    # Given an alarm transition that opened an incident (its flow started)
    transition = alarm(event_id="evt-1")
    opened = admission.handle(transition, lambda_context)
    # When copies of that same transition arrive under other EventBridge ids
    for copy_id in ("evt-copy-1", "evt-copy-2"):
        folded = admission.handle({**transition, "id": copy_id}, lambda_context)
    # Then they are duplicates of it, counted, and start nothing; the original's retry still continues it
    assert folded == {"outcome": "duplicate", "duplicate_of": opened["incident_id"], "duplicates": 2}
    assert len(starts.calls) == 1
    assert admission.handle(transition, lambda_context)["outcome"] == "opened"
