"""run_agent writes its decision record and timeline step in one round trip, numbered alike under races."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from controlroom.contracts.base import Contract, LenientInput
from controlroom.runtime import AgentContext, AgentSpec, run_agent, stores
from tests.dynamo_atomic import atomic_dynamodb  # noqa: F401 (fixture)

INCIDENT_ID = "inc-00000000000000aa"


class _Incident(Contract):
    incident_id: str
    deadline_at: None = None


class _Intake(Contract):
    incident: _Incident


class _Input(LenientInput):
    intake: _Intake


class _Output(Contract):
    seen: str


def _logic(request: _Input, ctx: AgentContext) -> _Output:
    return _Output(seen=request.intake.incident.incident_id)


def _spec(name: str) -> AgentSpec[_Input, _Output]:
    return AgentSpec(name=name, input_model=_Input, output_model=_Output, logic=_logic)


EVENT = {"intake": {"incident": {"incident_id": INCIDENT_ID}}}


def _count_calls(calls: Counter[str]) -> None:
    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    stores().audit._table.meta.client.meta.events.register("before-call.dynamodb", count)


def test_the_record_and_its_step_are_one_transaction(aws, lambda_context):
    # Given an agent whose chain head this process wrote last (so no head read is needed)
    run_agent(_spec("first"), EVENT, lambda_context)
    calls: Counter[str] = Counter()
    _count_calls(calls)
    # When it runs again
    run_agent(_spec("second"), EVENT, lambda_context)
    # Then one DynamoDB round trip wrote both the audit record and the timeline step
    assert calls == Counter({"TransactWriteItems": 1})
    steps = stores().checkpoint.steps(INCIDENT_ID)
    assert [(step.step, step.agent) for step in steps] == [(1, "first"), (2, "second")]
    records = stores().audit.records(INCIDENT_ID)
    assert [(record.seq, record.actor) for record in records] == [(1, "agent:first"), (2, "agent:second")]
    assert stores().audit.verify(INCIDENT_ID).ok


def test_racing_agents_each_step_carries_its_own_audit_seq(aws, lambda_context, atomic_dynamodb):  # noqa: F811
    # Given several agents of one incident, run by concurrent threads (a lost race relinks and renumbers)
    racers, barrier, errors = 6, threading.Barrier(6), []

    def race(n: int) -> None:
        try:
            barrier.wait()
            run_agent(_spec(f"agent{n}"), EVENT, lambda_context)
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every append landed with its step, and each step is numbered by its own record's seq
    assert errors == []
    by_seq = {record.seq: record.actor for record in stores().audit.records(INCIDENT_ID)}
    steps = stores().checkpoint.steps(INCIDENT_ID)
    assert sorted(by_seq) == list(range(1, racers + 1))
    assert {step.step: f"agent:{step.agent}" for step in steps} == by_seq
    assert len(steps) == racers
    assert stores().audit.verify(INCIDENT_ID).ok


class _Leaky(Contract):
    seen: str
    note: str


def _leaky_logic(request: _Input, ctx: AgentContext) -> _Leaky:
    return _Leaky(seen=request.intake.incident.incident_id, note="db postgres://app:hunter2@db:5432 refused")


def test_the_step_is_the_audit_record_redacted_once_with_its_seq(aws, lambda_context):
    # Given an agent whose output carries a secret
    spec = AgentSpec(name="leaky", input_model=_Input, output_model=_Leaky, logic=_leaky_logic)
    # When it runs
    run_agent(spec, EVENT, lambda_context)
    # Then the timeline step holds exactly the audit record's payload, numbered by its seq
    (record,) = stores().audit.records(INCIDENT_ID)
    (step,) = stores().checkpoint.steps(INCIDENT_ID)
    assert step.step == record.seq == 1
    assert step.model_dump(mode="json", exclude={"step"}) == record.payload
    # And neither holds the secret
    assert step.output is not None and "hunter2" not in step.output["note"]
    assert "hunter2" not in str(record.payload)
    assert step.output["note"] == "db postgres://[REDACTED:url_credentials]@db:5432 refused"
