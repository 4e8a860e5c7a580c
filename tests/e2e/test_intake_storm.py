"""Intake on the local engine: storms fold before any execution starts; an execution that ends unclosed
frees its alarm."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from controlroom.contracts import IncidentStatus
from controlroom.local.patches import EngineEndpoint

from .conftest import alarm_event, finished, fire_one, history_states

pytestmark = pytest.mark.e2e

STORM = 1000
# EventBridge takes at most 10 entries per PutEvents call.
BATCH = 10


def _entry(event: dict) -> dict:
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
    }


def _incident_metas(client) -> list[dict]:
    items = client.aws("dynamodb").scan(TableName=client.outputs["CheckpointTableName"])["Items"]
    return [i for i in items if i["pk"]["S"].startswith("INCIDENT#") and i["sk"]["S"] == "META"]


def _statuses(client) -> list[str]:
    pages = client.sfn.get_paginator("list_executions").paginate(stateMachineArn=client.state_machine_arn)
    return [e["status"] for page in pages for e in page["executions"]]


def test_a_storm_of_identical_alarms_opens_one_incident_and_fails_nothing(client):
    # Given one alarm event, delivered 1000 times by concurrent producers (10 entries per PutEvents call)
    event = alarm_event()
    batches = [[_entry(event)] * BATCH for _ in range(STORM // BATCH)]

    def put(entries: list[dict]) -> int:
        response = client.aws("events").put_events(Entries=entries)
        return len([e for e in response["Entries"] if "EventId" in e])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        accepted = sum(pool.map(put, batches))
    elapsed = time.monotonic() - started
    assert accepted == STORM
    # Then exactly one incident and one execution exist; the other 999 events only counted
    metas = _incident_metas(client)
    assert len(metas) == 1
    assert int(metas[0]["duplicates"]["N"]) == STORM - 1
    executions = client.executions()
    assert len(executions) == 1
    incident_id = metas[0]["pk"]["S"].removeprefix("INCIDENT#")
    assert executions[0].endswith(f":{incident_id}")
    # And that execution runs the incident, and nothing failed
    approval = client.wait_for_approval(incident_id, executions[0])
    client.decide(approval.approval_id, "reject", "cli:test")
    assert finished(client, executions[0]).terminal_state == "Rejected"
    assert "FAILED" not in _statuses(client)
    # And duplicates wrote nothing to the incident's audit chain (its records are the flow's own)
    assert [r.agent for r in client.timeline(incident_id)].count("intake") == 1
    print(f"\n{STORM} events admitted in {elapsed:.1f} s")


@pytest.fixture
def failing_after_intake():
    """Evidence (the task right after Intake) and Escalate both fail: the execution ends FAILED."""
    saved = dict(EngineEndpoint.agent_environment)
    for agent in ("evidence", "escalate"):
        EngineEndpoint.agent_environment[agent] = {"CHECKPOINT_TABLE": "no-such-table"}
    yield
    EngineEndpoint.agent_environment.clear()
    EngineEndpoint.agent_environment.update(saved)


def _wait_for_status(client, incident_id: str, status: IncidentStatus, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while (item := client.incident(incident_id)).status is not status and time.monotonic() < deadline:
        time.sleep(0.1)
    return item


def test_an_execution_failing_after_intake_frees_the_alarm(client, failing_after_intake):
    # Given an alarm whose execution fails right after Intake opened the incident
    first_arn = fire_one(client, alarm_event())
    first = client.incident_id(first_arn)
    view = finished(client, first_arn)
    assert (view.status, view.terminal_state) == ("FAILED", "EscalationFailed")
    assert "Evidence" in history_states(client, first_arn)
    # Then the status-change event escalates its incident and releases the alarm's lock
    assert _wait_for_status(client, first, IncidentStatus.ESCALATED).status is IncidentStatus.ESCALATED
    # When the same alarm fires again (with the failure gone)
    EngineEndpoint.agent_environment.clear()
    second_arn = fire_one(client, alarm_event())
    # Then it opens a new incident instead of folding into the dead one
    second = client.incident_id(second_arn)
    assert second and second != first
    assert client.incident(second).status is IncidentStatus.OPEN
