"""Diagnose and Plan through the real anthropic SDK, answered by a scripted HTTP transport (no network)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx2
import pytest

from controlroom.llm import diagnose_with_model, model_deps, plan_with_model
from controlroom.llm.recording import ExchangeRecorder
from controlroom.runtime.observability import metrics
from tests.unit.test_llm_fixtures import (
    GOOD_DIAGNOSIS,
    GOOD_PLAN,
    INCIDENT_ID,
    MessagesApi,
    agent_ctx,
    anthropic_model,
    diagnose_input,
    fallback_diagnosis,
    fallback_plan,
    message_body,
    plan_input,
)


@pytest.fixture
def no_backoff(monkeypatch):
    """Record the SDK's retry waits instead of sleeping them."""
    import anthropic._base_client as base_client

    waits: list[float] = []

    class _Time(SimpleNamespace):
        def __getattr__(self, name):
            return getattr(time, name)

    monkeypatch.setattr(base_client, "time", _Time(sleep=waits.append))
    return waits


def test_good_answer_becomes_an_llm_diagnosis_with_usage_and_cost(aws):
    # Given the Messages API answers with a valid diagnosis tool call
    api = MessagesApi(message_body(GOOD_DIAGNOSIS, tokens_in=1000, tokens_out=300))
    ctx = agent_ctx()
    metrics.clear_metrics()
    # When Diagnose runs its model path
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=anthropic_model(api))
    )
    # Then the model's hypotheses are the output, and the decision-record fields are filled
    assert diagnosis.produced_by == "llm" and diagnosis.top.change_ref == "change:lambda_version:7"
    assert (
        ctx.produced_by == "llm"
        and ctx.model_id == "claude-sonnet-4-6"
        and ctx.prompt_version == "diagnose.v1"
    )
    assert (ctx.tokens_in, ctx.tokens_out) == (1000, 300)
    assert ctx.cost_usd == pytest.approx((1000 * 3 + 300 * 15) / 1_000_000)
    # And the cost, tokens and latency went out as EMF metrics
    assert metrics.metric_set["ModelCostUsd"]["Value"] == [pytest.approx(0.0075)]
    assert metrics.metric_set["ModelTokensIn"]["Value"] == [1000.0]
    assert "ModelLatency" in metrics.metric_set
    metrics.clear_metrics()
    # And the request forced the contract-derived tool and carried the time budget as its timeout
    sent = api.requests[0]
    assert sent["tool_choice"] == {"type": "tool", "name": "record_diagnosis"}
    assert sent["tools"][0]["input_schema"]["required"] == ["hypotheses"]
    assert sent["max_tokens"] == 2048 and "untrusted" in sent["system"]
    model_call = next(call for call in ctx.tool_calls if call.tool == "model:diagnose")
    assert model_call.ok
    # And the exchange was recorded for replay
    exchanges = ExchangeRecorder(aws.dynamodb.Table(aws.checkpoint_table)).exchanges(INCIDENT_ID)
    assert [(e.seq, e.purpose, e.prompt_version) for e in exchanges] == [(1, "diagnose", "diagnose.v1")]
    assert exchanges[0].reply.tool_input == GOOD_DIAGNOSIS


def test_invalid_answer_is_sent_back_once_and_the_repair_is_used(aws):
    # Given a first answer that breaks the contract (confidence above 1) and a corrected second one
    bad = {"hypotheses": [{**GOOD_DIAGNOSIS["hypotheses"][0], "confidence": 1.7}]}
    api = MessagesApi(message_body(bad), message_body(GOOD_DIAGNOSIS))
    ctx = agent_ctx()
    # When Diagnose runs
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=anthropic_model(api))
    )
    # Then the repaired answer is used, and the second request returned the validation error as a tool result
    assert diagnosis.produced_by == "llm" and diagnosis.confidence == 0.9
    repair = api.requests[1]["messages"]
    assert repair[1]["content"][0]["type"] == "tool_use"
    result = repair[2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert "confidence" in result["content"] and "1.7" not in result["content"]
    assert ctx.tokens_in == 2000  # both calls are paid for


def test_invalid_twice_falls_back_to_rules(aws):
    # Given the model cites evidence that does not exist, twice
    bad = {"hypotheses": [{**GOOD_DIAGNOSIS["hypotheses"][0], "evidence_refs": ["log:99"]}]}
    api = MessagesApi(message_body(bad), message_body(bad))
    ctx = agent_ctx()
    # When Diagnose runs
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=anthropic_model(api))
    )
    # Then the rules decide, exactly two calls were made, and the spend is still on the record
    assert diagnosis.produced_by == "fallback" and ctx.produced_by == "fallback"
    assert len(api.requests) == 2 and ctx.tokens_out == 600 and ctx.cost_usd > 0
    assert any("invalid_output" in note for note in ctx.notes)


@pytest.mark.parametrize(
    "failure", [429, 500, httpx2.ReadTimeout("read timed out")], ids=["throttled", "server-error", "timeout"]
)
def test_transient_failures_are_retried_by_the_sdk_then_fall_back(aws, no_backoff, failure):
    # Given an endpoint that keeps failing
    api = MessagesApi(failure)
    ctx = agent_ctx()
    # When Diagnose runs with one SDK retry
    diagnosis = diagnose_with_model(
        diagnose_input(),
        ctx,
        fallback_diagnosis,
        deps=model_deps(ctx, client=anthropic_model(api, max_retries=1)),
    )
    # Then the SDK tried twice (one backoff wait, not slept), then the rules decided
    assert len(api.requests) == 2 and len(no_backoff) == 1
    assert diagnosis.produced_by == "fallback"
    failed = next(call for call in ctx.tool_calls if call.tool == "model:diagnose")
    assert not failed.ok and failed.error_type == "TransientDependencyError"
    # And the failed exchange is on record, with no tokens charged to the incident
    exchanges = ExchangeRecorder(aws.dynamodb.Table(aws.checkpoint_table)).exchanges(INCIDENT_ID)
    assert exchanges[0].reply is None and exchanges[0].error.startswith("TransientDependencyError")
    assert ctx.tokens_in == 0


def test_a_retry_that_succeeds_is_used(aws, no_backoff):
    api = MessagesApi(429, message_body(GOOD_DIAGNOSIS))
    ctx = agent_ctx()
    diagnosis = diagnose_with_model(
        diagnose_input(),
        ctx,
        fallback_diagnosis,
        deps=model_deps(ctx, client=anthropic_model(api, max_retries=2)),
    )
    assert diagnosis.produced_by == "llm" and len(api.requests) == 2


def test_the_timeout_comes_from_the_time_budget(aws):
    # Given an agent with 8 s left and two SDK retries
    seen: list[float] = []

    def handler(request):
        seen.append(float(request.extensions["timeout"]["read"]))
        return httpx2.Response(200, json=message_body(GOOD_DIAGNOSIS))

    from controlroom.llm.anthropic_client import AnthropicModel

    model = AnthropicModel(
        model_id="claude-sonnet-4-6",
        api_key="k",
        max_retries=2,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    ctx = agent_ctx(seconds=8)
    diagnose_with_model(diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=model))
    # Then each attempt may take what is left after the fallback reserve, split across the attempts
    assert 1.5 < seen[0] <= 2.0


def test_too_little_time_left_means_no_call(aws):
    api = MessagesApi(message_body(GOOD_DIAGNOSIS))
    ctx = agent_ctx(seconds=2.5)
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=anthropic_model(api))
    )
    assert diagnosis.produced_by == "fallback" and api.requests == []
    assert any("time_budget" in note for note in ctx.notes)


def test_plan_from_the_model_is_bound_to_the_incident(aws):
    api = MessagesApi(message_body(GOOD_PLAN, tool="propose_plan"))
    ctx = agent_ctx("plan")
    plan = plan_with_model(
        plan_input(), ctx, fallback_plan, deps=model_deps(ctx, client=anthropic_model(api))
    )
    assert plan.produced_by == "llm" and plan.incident_id == INCIDENT_ID
    assert plan.actions[0].type == "rollback_lambda_alias" and plan.actions[0].target_version == "6"
    assert api.requests[0]["tool_choice"]["name"] == "propose_plan"


def test_bedrock_adapter_signs_with_iam_and_parses_the_same_answer(aws):
    # Given the Bedrock runtime answering InvokeModel with a diagnosis
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(200, json=message_body(GOOD_DIAGNOSIS))

    from controlroom.llm.anthropic_client import AnthropicModel

    model = AnthropicModel(
        model_id="us.anthropic.claude-sonnet-4-6-v1:0",
        provider="bedrock",
        region="us-east-1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    ctx = agent_ctx()
    # When Diagnose runs on it
    diagnosis = diagnose_with_model(
        diagnose_input(), ctx, fallback_diagnosis, deps=model_deps(ctx, client=model)
    )
    # Then the call went to the model's invoke path, SigV4-signed, with no API key
    assert diagnosis.produced_by == "llm"
    assert seen[0].url.path.endswith("/invoke") and "us.anthropic.claude-sonnet-4-6-v1:0" in str(seen[0].url)
    assert seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256")
    assert "x-api-key" not in seen[0].headers
    assert model.endpoint == "bedrock:us-east-1:us.anthropic.claude-sonnet-4-6-v1:0"
