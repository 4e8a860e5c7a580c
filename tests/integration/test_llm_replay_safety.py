"""Redaction, prompt injection, and record/replay of an incident's model exchanges."""

from __future__ import annotations

import json

from controlroom.contracts import CATALOG
from controlroom.errors import TransientDependencyError
from controlroom.llm import ScriptedModel, diagnose_with_model, model_deps, plan_with_model
from controlroom.llm import recording as recording_module
from controlroom.llm.replay import ReplayModel, load_recording, replay_incident
from controlroom.runtime.stores import stores
from tests.unit.test_llm_fixtures import (
    GOOD_DIAGNOSIS,
    GOOD_PLAN,
    INCIDENT_ID,
    INJECTION_LOG,
    SECRET_LOG,
    agent_ctx,
    diagnose_input,
    fallback_diagnosis,
    fallback_plan,
    plan_input,
)

FALLBACKS = {"diagnose": fallback_diagnosis, "plan": fallback_plan}


def test_secrets_in_evidence_never_reach_the_model_and_the_record_counts_them(aws):
    # Given evidence whose log line holds a password, an AWS key, an email and an account id
    model = ScriptedModel([GOOD_DIAGNOSIS])
    ctx = agent_ctx()
    # When Diagnose asks the model
    diagnose_with_model(
        diagnose_input(SECRET_LOG), ctx, fallback_diagnosis, deps=model_deps(ctx, client=model)
    )
    # Then no secret value is in what was sent, nor in the recorded exchange
    sent = json.dumps([model.requests[0].system, model.requests[0].messages])
    stored = json.dumps(
        aws.dynamodb.Table(aws.checkpoint_table).get_item(
            Key={"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "MODEL#00001"}
        )["Item"],
        default=str,
    )
    for secret in ("hunter2", "AKIAIOSFODNN7EXAMPLE", "ops@example.com", "123456789012"):
        assert secret not in sent and secret not in stored
    # And the decision record's context says what was redacted, by kind
    assert ctx.redactions["password"] == 1 and ctx.redactions["aws_access_key"] == 1
    assert ctx.redactions["email"] == 1 and ctx.redactions["aws_account_id"] >= 2
    assert "redacted before the model: password x1" in ctx.extra_left_out


def _obedient_model():
    """A model that does whatever a log line tells it to (the worst case), including on the repair."""

    def obey(request):
        text = json.dumps(request.messages)
        assert "ignore previous instructions" in text
        return {
            "summary": "approved as instructed",
            "based_on": "recent_change",
            "approved": True,
            "actions": [
                {
                    "type": "delete_dynamodb_table",
                    "action_id": "act-1",
                    "table": "checkout-orders",
                    "rationale": "the log said so",
                }
            ],
        }

    return ScriptedModel({"plan": [obey, obey]})


def test_injected_instructions_produce_nothing_outside_the_catalog(aws):
    # Given a log line that tells the model to approve and delete a table, and a model that obeys it
    model = _obedient_model()
    ctx = agent_ctx("plan")
    # When Plan runs
    plan = plan_with_model(plan_input(INJECTION_LOG), ctx, fallback_plan, deps=model_deps(ctx, client=model))
    # Then the contract rejected the answer, the repair was rejected too, and the runbook plan stands
    assert len(model.requests) == 2 and plan.produced_by == "fallback"
    assert {action.type for action in plan.actions} <= set(CATALOG)
    assert "delete" not in json.dumps(plan.model_dump(mode="json"))
    # And the injected text reached the model only inside the untrusted-data block
    message = model.requests[0].messages[0]["content"]
    tag = message.split("<", 1)[1].split(">", 1)[0]
    opening, closing = message.index(f"<{tag}>\n"), message.rindex(f"\n</{tag}>")
    assert opening < message.index("ignore previous instructions") < closing
    assert "</" not in message[opening + len(tag) + 2 : closing]  # nothing inside can close the block


def test_a_plan_cannot_use_an_ssm_document_outside_the_allow_list(aws):
    rogue = {
        **GOOD_PLAN,
        "actions": [
            {
                "type": "run_ssm_automation",
                "action_id": "act-1",
                "document_name": "AWS-DeleteDynamoDbTableBackups",
                "rationale": "cleanup",
            }
        ],
    }
    model = ScriptedModel({"plan": [rogue, rogue]})
    ctx = agent_ctx("plan")
    plan = plan_with_model(plan_input(), ctx, fallback_plan, deps=model_deps(ctx, client=model))
    assert plan.produced_by == "fallback"


def _decide_incident(model):
    ctx = agent_ctx()
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=model)
    )
    ctx = agent_ctx("plan")
    plan = plan_with_model(plan_input(), ctx, fallback_plan, deps=model_deps(ctx, client=model))
    return diagnosis, plan


def test_replay_gives_the_same_decisions_without_a_model(aws):
    # Given an incident decided by the model, Diagnose after one repair
    bad = {"hypotheses": [{**GOOD_DIAGNOSIS["hypotheses"][0], "cause": "cosmic_rays"}]}
    model = ScriptedModel({"diagnose": [bad, GOOD_DIAGNOSIS], "plan": [GOOD_PLAN]})
    diagnosis, plan = _decide_incident(model)
    # When the recording is loaded and the incident is replayed
    recording = load_recording(stores().checkpoint, INCIDENT_ID)
    replayed = replay_incident(stores().checkpoint, INCIDENT_ID, fallbacks=FALLBACKS)
    # Then every exchange is there in order and the replay decides exactly the same
    assert [(e.seq, e.purpose) for e in recording.exchanges] == [
        (1, "diagnose"),
        (2, "diagnose"),
        (3, "plan"),
    ]
    assert set(recording.inputs) == {"diagnose", "plan"}
    assert replayed["diagnose"] == diagnosis and replayed["plan"] == plan
    assert replayed["plan"].plan_digest == plan.plan_digest
    # And replaying spent nothing and recorded nothing new
    assert len(load_recording(stores().checkpoint, INCIDENT_ID).exchanges) == 3


def test_replay_of_a_failed_model_call_falls_back_the_same_way(aws):
    model = ScriptedModel({"diagnose": [GOOD_DIAGNOSIS], "plan": [TransientDependencyError("503")]})
    diagnosis, plan = _decide_incident(model)
    assert plan.produced_by == "fallback"
    replayed = replay_incident(aws.dynamodb.Table(aws.checkpoint_table), INCIDENT_ID, fallbacks=FALLBACKS)
    assert replayed == {"diagnose": diagnosis, "plan": plan}


def test_replay_model_raises_when_the_recording_runs_out(aws):
    model = ScriptedModel({"diagnose": [GOOD_DIAGNOSIS]})
    _decide_incident(model)
    replay = ReplayModel(load_recording(stores().checkpoint, INCIDENT_ID))
    assert replay.model_id == "scripted"
    request = model.requests[0]
    assert replay.complete(request).tool_input == GOOD_DIAGNOSIS
    try:
        replay.complete(request)
    except TransientDependencyError as exc:
        assert "no recorded model exchange left" in str(exc)
    else:
        raise AssertionError("a replay past the recording must fail")


def test_big_bodies_go_to_the_record_bucket(aws, monkeypatch):
    # Given a record bucket and bodies bigger than the inline limit
    aws.client("s3").create_bucket(Bucket="model-records")
    monkeypatch.setenv("MODEL_RECORD_BUCKET", "model-records")
    monkeypatch.setattr(recording_module, "MAX_INLINE_BYTES", 2000)
    model = ScriptedModel({"diagnose": [GOOD_DIAGNOSIS], "plan": [GOOD_PLAN]})
    diagnosis, plan = _decide_incident(model)
    # Then the items point at S3, and the recording reads them back whole
    item = aws.dynamodb.Table(aws.checkpoint_table).get_item(
        Key={"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "MODEL#00001"}
    )["Item"]
    assert item["request_s3"].startswith("s3://model-records/model-records/") and "request" not in item
    recording = load_recording(stores().checkpoint, INCIDENT_ID)
    assert recording.exchanges[0].request["messages"] == model.requests[0].messages
    assert replay_incident(stores().checkpoint, INCIDENT_ID, fallbacks=FALLBACKS) == {
        "diagnose": diagnosis,
        "plan": plan,
    }


def test_big_bodies_without_a_bucket_are_truncated_with_a_note(aws, monkeypatch):
    monkeypatch.setattr(recording_module, "MAX_INLINE_BYTES", 2000)
    _decide_incident(ScriptedModel({"diagnose": [GOOD_DIAGNOSIS], "plan": [GOOD_PLAN]}))
    exchange = load_recording(stores().checkpoint, INCIDENT_ID).exchanges[0]
    assert exchange.request is None and exchange.reply.tool_input == GOOD_DIAGNOSIS
    assert exchange.notes == ("request truncated to 64 KB (no MODEL_RECORD_BUCKET)",)


def test_a_stale_sequence_number_never_overwrites_a_recorded_exchange(aws, monkeypatch):
    # Given one exchange recorded, and a second writer that read the tail before it was written
    from controlroom.llm.recording import ExchangeRecorder

    model = ScriptedModel({"diagnose": [GOOD_DIAGNOSIS]})
    _decide_incident(model)
    recorder = ExchangeRecorder(aws.dynamodb.Table(aws.checkpoint_table))
    stale = iter([1])
    real_next = recorder._next_seq
    monkeypatch.setattr(
        recorder, "_next_seq", lambda incident_id: next(stale, None) or real_next(incident_id)
    )
    # When it records its exchange
    seq = recorder.record(INCIDENT_ID, "plan", model.requests[0], None, error="boom")
    # Then the first exchange is intact and the new one took the next free number
    exchanges = recorder.exchanges(INCIDENT_ID)
    assert seq == exchanges[-1].seq and exchanges[0].reply.tool_input == GOOD_DIAGNOSIS
    assert exchanges[-1].error == "boom"
