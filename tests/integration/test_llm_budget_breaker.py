"""Token budget per incident and the circuit breaker per model endpoint, both in the checkpoint table."""

from __future__ import annotations

import pytest

from controlroom.errors import TransientDependencyError
from controlroom.llm import ScriptedModel, diagnose_with_model, model_deps, plan_with_model
from controlroom.llm.breaker import CLOSED, HALF_OPEN, OPEN
from controlroom.runtime.observability import metrics
from tests.dynamo_atomic import atomic_dynamodb  # noqa: F401 (fixture)
from tests.unit.test_llm_fixtures import (
    GOOD_DIAGNOSIS,
    GOOD_PLAN,
    INCIDENT_ID,
    FakeClock,
    agent_ctx,
    diagnose_input,
    fallback_diagnosis,
    fallback_plan,
    plan_input,
)


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _diagnose(model, clock=None):
    ctx = agent_ctx()
    deps = model_deps(ctx, client=model, clock=clock) if clock else model_deps(ctx, client=model)
    return diagnose_with_model(diagnose_input(), ctx, fallback_diagnosis, deps=deps), ctx


def test_budget_warns_at_80_percent_shrinks_max_tokens_then_stops_calls(aws, monkeypatch):
    # Given an incident budget of 3600 tokens, 2048 output tokens per call, and calls whose input costs
    # 1000 tokens and whose answer uses 500
    monkeypatch.setenv("TOKEN_BUDGET_PER_INCIDENT", "3600")
    monkeypatch.setenv("MODEL_MAX_TOKENS", "2048")
    model = ScriptedModel([GOOD_DIAGNOSIS] * 4, model_id="claude-sonnet-4-6", tokens_in=1000, tokens_out=500)
    # When Diagnose calls the model once: 1000 + 2048 reserved, 1500 of 3600 used, no warning
    _, first = _diagnose(model)
    assert first.produced_by == "llm" and first.notes == []
    # And a second time: 2100 left, of which the input takes 1000, so the call may ask for 1100 output
    # tokens; 3000 of 3600 used (83%): a timeline note and one soft-limit metric
    _, second = _diagnose(model)
    assert second.produced_by == "llm"
    assert [request.max_tokens for request in model.requests] == [2048, 1100]
    assert second.notes == ["token budget 83% used (3000/3600)"]
    assert metrics.metric_set["TokenBudgetSoftLimit"]["Value"] == [1.0]
    # When only 600 tokens are left, less than the input alone, the next Diagnose makes no call
    diagnosis, third = _diagnose(model)
    assert len(model.requests) == 2
    assert diagnosis.produced_by == "fallback" and third.produced_by == "fallback"
    assert "token budget exhausted (100%): model not called" in third.notes
    assert metrics.metric_set["TokenBudgetExhausted"]["Value"] == [1.0]
    # And the budget never went past its hard limit; the item is versioned and expires with the incident
    item = aws.dynamodb.Table(aws.checkpoint_table).get_item(
        Key={"pk": f"BUDGET#{INCIDENT_ID}", "sk": "TOKENS"}
    )["Item"]
    assert item["used"] == 3000 and item["limit_tokens"] == 3600
    assert item["schema_version"] == 1 and item["expires_at_epoch"] > 0 and item["soft_limit_warned"] is True


@pytest.mark.usefixtures("atomic_dynamodb")
def test_concurrent_reservations_never_exceed_the_hard_limit(aws):
    # Given a 10000-token budget and 12 calls racing for it, each with 1500 input tokens, wanting 2048 out
    import threading

    from controlroom.llm.budget import TokenBudget

    table = aws.dynamodb.Table(aws.checkpoint_table)
    barrier = threading.Barrier(12)
    granted = []

    def call() -> None:
        budget = TokenBudget(table, 10_000)
        barrier.wait()
        reservation = budget.reserve(INCIDENT_ID, 2048, input_tokens=1500)
        if reservation is not None:
            granted.append(reservation)
            # The worst case: the model uses every output token it was allowed
            budget.settle(reservation, reservation.input_tokens + reservation.max_tokens)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every granted call carried its whole input, and together they stayed within the limit
    assert granted and all(r.input_tokens == 1500 and r.max_tokens >= 256 for r in granted)
    used = int(table.get_item(Key={"pk": f"BUDGET#{INCIDENT_ID}", "sk": "TOKENS"})["Item"]["used"])
    assert used == sum(r.reserved for r in granted) and used <= 10_000


def test_the_input_bound_of_a_real_adapter_covers_the_request_text():
    # The default bound (Anthropic, Bedrock): never fewer tokens than a byte-level tokenizer could make
    from controlroom.llm.port import ModelClient, ModelRequest, ToolSpec

    class Adapter(ModelClient):
        model_id, endpoint = "m", "e"

        def complete(self, request):  # pragma: no cover - not called
            raise AssertionError

    request = ModelRequest(
        purpose="diagnose",
        prompt_version="v1",
        system="s" * 1000,
        messages=[{"role": "user", "content": "é" * 500}],
        tool=ToolSpec(name="t", description="d", input_schema={"type": "object"}),
        max_tokens=100,
        timeout_seconds=1.0,
    )
    assert Adapter().input_token_bound(request) >= 1000 + 2 * 500


def test_budget_is_shared_by_diagnose_and_plan_of_one_incident(aws, monkeypatch):
    # Given a budget that one call leaves less than a useful answer of (256 tokens)
    monkeypatch.setenv("TOKEN_BUDGET_PER_INCIDENT", "2000")
    model = ScriptedModel({"diagnose": [GOOD_DIAGNOSIS], "plan": [GOOD_PLAN]}, tokens_in=1400, tokens_out=400)
    # When Diagnose spends it and then Plan runs
    diagnosis, _ = _diagnose(model)
    ctx = agent_ctx("plan")
    plan = plan_with_model(plan_input(), ctx, fallback_plan, deps=model_deps(ctx, client=model))
    # Then Diagnose came from the model and Plan from the runbooks, without a call
    assert diagnosis.produced_by == "llm" and plan.produced_by == "fallback"
    assert [request.purpose for request in model.requests] == ["diagnose"]


def test_failed_call_gives_its_reservation_back(aws, monkeypatch):
    monkeypatch.setenv("TOKEN_BUDGET_PER_INCIDENT", "5000")
    _diagnose(ScriptedModel([TransientDependencyError("503")]))
    item = aws.dynamodb.Table(aws.checkpoint_table).get_item(
        Key={"pk": f"BUDGET#{INCIDENT_ID}", "sk": "TOKENS"}
    )["Item"]
    assert item["used"] == 0


def _breaker_state(aws, endpoint="scripted:flaky"):
    item = aws.dynamodb.Table(aws.checkpoint_table).get_item(Key={"pk": f"BREAKER#{endpoint}", "sk": "STATE"})
    return item.get("Item", {}).get("state", CLOSED)


def test_breaker_opens_after_n_failures_and_closes_after_a_successful_probe(aws, monkeypatch):
    # Given a breaker that opens after 2 consecutive failures and cools down for 60 s
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "60")
    clock = FakeClock()
    outage = TransientDependencyError("model endpoint answered 503")
    model = ScriptedModel([outage, outage, GOOD_DIAGNOSIS], model_id="flaky")
    # When two calls fail
    _diagnose(model, clock)
    assert _breaker_state(aws, model.endpoint) == CLOSED
    _, ctx = _diagnose(model, clock)
    # Then the breaker is open and says so on the timeline
    assert _breaker_state(aws, model.endpoint) == OPEN
    assert "circuit breaker opened for scripted:flaky" in ctx.notes
    # And while it is open, Diagnose goes straight to the rules without calling the model
    clock.now += 59
    diagnosis, ctx = _diagnose(model, clock)
    assert diagnosis.produced_by == "fallback" and len(model.requests) == 2
    assert any("breaker_open" in note for note in ctx.notes)
    # When the cool-down has passed, one probe goes out; it succeeds and the breaker closes
    clock.now += 2
    diagnosis, _ = _diagnose(model, clock)
    assert diagnosis.produced_by == "llm" and len(model.requests) == 3
    assert _breaker_state(aws, model.endpoint) == CLOSED


def test_failed_probe_reopens_for_another_cool_down(aws, monkeypatch):
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "30")
    clock = FakeClock()
    outage = TransientDependencyError("timeout")
    model = ScriptedModel([outage, outage, GOOD_DIAGNOSIS], model_id="flaky")
    _diagnose(model, clock)
    assert _breaker_state(aws, model.endpoint) == OPEN
    # When the probe after the cool-down fails too
    clock.now += 31
    _diagnose(model, clock)
    # Then the breaker is open again, and the next call inside the new cool-down is not made
    assert _breaker_state(aws, model.endpoint) == OPEN
    clock.now += 10
    _diagnose(model, clock)
    assert len(model.requests) == 2


def test_only_one_probe_goes_out_when_the_cool_down_ends(aws, monkeypatch):
    # Given an open breaker past its cool-down
    from controlroom.llm.breaker import CircuitBreaker

    clock = FakeClock()
    table = aws.dynamodb.Table(aws.checkpoint_table)
    breaker = CircuitBreaker(table, "ep", threshold=1, cooldown_seconds=10, clock=clock)
    other = CircuitBreaker(table, "ep", threshold=1, cooldown_seconds=10, clock=clock)
    assert breaker.record_failure() is True
    clock.now += 11
    # When two functions ask at the same moment
    # Then exactly one of them gets the probe
    assert [breaker.allow(), other.allow()] == [True, False]
    assert breaker.state() == HALF_OPEN


def test_no_incident_means_no_budget_to_charge_and_no_call(aws):
    model = ScriptedModel([GOOD_DIAGNOSIS])
    ctx = agent_ctx()
    ctx.incident_id = None
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=model)
    )
    assert diagnosis.produced_by == "fallback" and model.requests == []
