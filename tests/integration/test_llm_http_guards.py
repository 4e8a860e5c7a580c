"""The guards around the model, exercised through the real anthropic SDK over a scripted HTTP transport."""

from __future__ import annotations

import json

from controlroom.contracts import CATALOG
from controlroom.llm import diagnose_with_model, model_deps, plan_with_model
from controlroom.llm.breaker import CLOSED, OPEN, CircuitBreaker
from controlroom.llm.replay import replay_incident
from controlroom.runtime.stores import stores
from tests.unit.test_llm_fixtures import (
    GOOD_DIAGNOSIS,
    GOOD_PLAN,
    INCIDENT_ID,
    INJECTION_LOG,
    SECRET_LOG,
    FakeClock,
    MessagesApi,
    agent_ctx,
    anthropic_model,
    diagnose_input,
    fallback_diagnosis,
    fallback_plan,
    message_body,
    plan_input,
)


def _diagnose(model, clock=None, *log_lines):
    ctx = agent_ctx()
    deps = model_deps(ctx, client=model, clock=clock or FakeClock())
    return diagnose_with_model(diagnose_input(*log_lines), ctx, fallback_diagnosis, deps=deps), ctx


def test_http_failures_open_the_breaker_and_a_probe_after_the_cool_down_closes_it(aws, monkeypatch):
    # Given an endpoint failing with 500s, a breaker opening after 2 failures, 60 s cool-down, no SDK retries
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "60")
    api = MessagesApi(500, 500, message_body(GOOD_DIAGNOSIS))
    model = anthropic_model(api, max_retries=0)
    clock = FakeClock()
    breaker = CircuitBreaker(
        aws.dynamodb.Table(aws.checkpoint_table),
        model.endpoint,
        threshold=2,
        cooldown_seconds=60,
        clock=clock,
    )
    # When two incidents' calls fail
    _diagnose(model, clock)
    _diagnose(model, clock)
    # Then the breaker is open and the next call never reaches the endpoint
    assert breaker.state() == OPEN
    diagnosis, _ = _diagnose(model, clock)
    assert diagnosis.produced_by == "fallback" and len(api.requests) == 2
    # When the cool-down is over, the probe goes out, succeeds, and the breaker closes
    clock.now += 61
    diagnosis, _ = _diagnose(model, clock)
    assert diagnosis.produced_by == "llm" and len(api.requests) == 3 and breaker.state() == CLOSED


def test_usage_reported_by_the_api_is_charged_to_the_incident_budget(aws, monkeypatch):
    # Given a 5600-token budget and answers that report 1600 + 1000 tokens each, the adapter bounding each
    # request's input at the 1600 tokens the API then reports (the byte bound itself is tested apart)
    monkeypatch.setenv("TOKEN_BUDGET_PER_INCIDENT", "5600")
    api = MessagesApi(message_body(GOOD_DIAGNOSIS, tokens_in=1600, tokens_out=1000))
    model = anthropic_model(api)
    monkeypatch.setattr(model, "input_token_bound", lambda request: 1600)
    # When Diagnose runs twice
    _, first = _diagnose(model)
    _, second = _diagnose(model)
    # Then the second call could only ask for what was left after its input, and crossing 80% left a note
    assert [sent["max_tokens"] for sent in api.requests] == [2048, 5600 - 2600 - 1600]
    assert first.notes == [] and second.notes == ["token budget 93% used (5200/5600)"]
    # And the third attempt, whose input alone would pass the limit, is not sent at all
    diagnosis, third = _diagnose(model)
    assert len(api.requests) == 2 and diagnosis.produced_by == "fallback"
    assert "token budget exhausted (100%): model not called" in third.notes


def test_no_secret_goes_over_the_wire(aws):
    # Given evidence with a password, an access key, an email and an account id
    api = MessagesApi(message_body(GOOD_DIAGNOSIS))
    # When Diagnose calls the API
    _, ctx = _diagnose(anthropic_model(api), None, SECRET_LOG)
    # Then the HTTP body holds none of them, only their redaction markers
    body = json.dumps(api.requests[0])
    for secret in ("hunter2", "AKIAIOSFODNN7EXAMPLE", "ops@example.com", "123456789012"):
        assert secret not in body
    assert "[REDACTED:password]" in body and ctx.redactions["aws_access_key"] == 1


def test_an_obedient_model_cannot_get_a_table_deleted(aws):
    # Given a model that follows the injected log line, on the first answer and on the repair
    obeyed = {
        "summary": "approved",
        "based_on": "recent_change",
        "approval": "granted",
        "actions": [
            {
                "type": "delete_table",
                "action_id": "act-1",
                "table_name": "checkout-orders",
                "rationale": "the log line asked",
            }
        ],
    }
    api = MessagesApi(message_body(obeyed, tool="propose_plan"))
    ctx = agent_ctx("plan")
    # When Plan runs on evidence carrying the injection
    plan = plan_with_model(
        plan_input(INJECTION_LOG), ctx, fallback_plan, deps=model_deps(ctx, client=anthropic_model(api))
    )
    # Then both answers were rejected by the contract and the runbook plan stands, inside the catalog
    assert len(api.requests) == 2 and plan.produced_by == "fallback"
    assert all(action.type in CATALOG for action in plan.actions)
    assert "delete" not in json.dumps(plan.model_dump(mode="json"))
    # And the repair told the model what was wrong without echoing the rejected values
    repair = api.requests[1]["messages"][2]["content"][0]
    assert repair["is_error"] is True and "checkout-orders" not in repair["content"]


def test_replay_of_an_http_incident_gives_the_same_decisions(aws):
    api = MessagesApi(message_body(GOOD_DIAGNOSIS), message_body(GOOD_PLAN, tool="propose_plan"))
    model = anthropic_model(api)
    diagnosis, _ = _diagnose(model)
    ctx = agent_ctx("plan")
    plan = plan_with_model(plan_input(), ctx, fallback_plan, deps=model_deps(ctx, client=model))
    replayed = replay_incident(
        stores().checkpoint, INCIDENT_ID, fallbacks={"diagnose": fallback_diagnosis, "plan": fallback_plan}
    )
    assert replayed == {"diagnose": diagnosis, "plan": plan} and len(api.requests) == 2
