"""Diagnose and Plan as deployed: run_agent around the model path, settings choosing the provider."""

from __future__ import annotations

import json

import pytest

from controlroom.agents.diagnose import DIAGNOSE
from controlroom.agents.plan import PLAN
from controlroom.llm import ScriptedModel, override_model_client
from controlroom.llm.factory import model_client, reset_model_clients
from controlroom.runtime import run_agent
from controlroom.runtime.stores import stores
from controlroom.settings import load_settings
from tests.unit.test_llm_fixtures import (
    GOOD_DIAGNOSIS,
    GOOD_PLAN,
    INCIDENT_ID,
    SECRET_LOG,
    diagnose_input,
    plan_input,
)


@pytest.fixture(autouse=True)
def no_cached_clients():
    reset_model_clients()
    yield
    reset_model_clients()


def _record(agent):
    return next(step for step in stores().checkpoint.steps(INCIDENT_ID) if step.agent == agent)


def test_without_a_model_the_agents_use_their_rules(aws, lambda_context):
    # Given the default settings (MODEL_PROVIDER=none)
    # When Diagnose and Plan run
    diagnosis = run_agent(DIAGNOSE, diagnose_input().model_dump(mode="json"), lambda_context)
    plan = run_agent(PLAN, plan_input().model_dump(mode="json"), lambda_context)
    # Then both come from the rules, the records say so, and no model exchange was stored
    assert diagnosis["produced_by"] == "fallback" and plan["produced_by"] == "fallback"
    record = _record("diagnose")
    assert record.produced_by == "fallback" and record.model_id is None and record.cost_usd == 0
    assert "fell back" not in record.summary
    table = aws.dynamodb.Table(aws.checkpoint_table)
    assert table.get_item(Key={"pk": f"INCIDENT#{INCIDENT_ID}", "sk": "MODEL#00001"}).get("Item") is None


def test_with_a_model_the_decision_record_names_model_prompt_tokens_and_cost(aws, lambda_context):
    # Given a model that answers both agents
    model = ScriptedModel(
        {"diagnose": [GOOD_DIAGNOSIS], "plan": [GOOD_PLAN]},
        model_id="claude-sonnet-4-6",
        tokens_in=2000,
        tokens_out=500,
    )
    with override_model_client(model):
        # When Diagnose and Plan run through the agent runtime, with a secret in the logs
        diagnosis = run_agent(DIAGNOSE, diagnose_input(SECRET_LOG).model_dump(mode="json"), lambda_context)
        plan = run_agent(PLAN, plan_input().model_dump(mode="json"), lambda_context)
    # Then their outputs come from the model
    assert diagnosis["produced_by"] == "llm" and plan["produced_by"] == "llm"
    assert plan["actions"][0]["type"] == "rollback_lambda_alias"
    # And each decision record says which model and prompt decided, what it cost and what was redacted
    record = _record("diagnose")
    assert record.produced_by == "llm" and record.model_id == "claude-sonnet-4-6"
    assert record.prompt_version == "diagnose.v1" and (record.tokens_in, record.tokens_out) == (2000, 500)
    assert record.cost_usd == pytest.approx(0.0135)
    assert "redacted before the model: password x1" in record.left_out
    assert any(call.tool == "model:diagnose" and call.ok for call in record.tool_calls)
    assert _record("plan").prompt_version == "plan.v1"


def test_a_model_failure_is_a_fallback_not_an_agent_error(aws, lambda_context):
    model = ScriptedModel({"plan": [{"summary": "nonsense"}, {"summary": "still nonsense"}]})
    with override_model_client(model):
        plan = run_agent(PLAN, plan_input().model_dump(mode="json"), lambda_context)
    record = _record("plan")
    assert plan["produced_by"] == "fallback" and record.status == "ok" and record.produced_by == "fallback"
    assert "plan: fell back to rules (invalid_output" in record.summary


def test_scripted_provider_answers_from_its_script_file(aws, lambda_context, monkeypatch, tmp_path):
    # Given the local demo's settings: the scripted provider and a script file
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"diagnose": [GOOD_DIAGNOSIS]}), encoding="utf-8")
    monkeypatch.setenv("MODEL_PROVIDER", "scripted")
    monkeypatch.setenv("MODEL_SCRIPT_FILE", str(script))
    # When Diagnose runs
    diagnosis = run_agent(DIAGNOSE, diagnose_input().model_dump(mode="json"), lambda_context)
    # Then the script answered
    assert diagnosis["produced_by"] == "llm" and diagnosis["hypotheses"][0]["cause"] == "recent_change"


def test_anthropic_provider_reads_its_key_from_secrets_manager(aws, monkeypatch):
    # Given the API key in Secrets Manager, as JSON
    arn = aws.client("secretsmanager").create_secret(
        Name="controlroom/model", SecretString=json.dumps({"api_key": "sk-ant-test"})
    )["ARN"]
    monkeypatch.setenv("MODEL_PROVIDER", "anthropic")
    monkeypatch.setenv("MODEL_API_KEY_SECRET_ARN", arn)
    # When the client is built from settings
    client = model_client(load_settings())
    # Then it is the Anthropic adapter for the configured model, holding the key from the secret
    assert client.endpoint == "anthropic:claude-sonnet-4-6"
    assert client._client.api_key == "sk-ant-test"


def test_misconfigured_provider_falls_back_instead_of_failing(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("MODEL_PROVIDER", "anthropic")  # and no MODEL_API_KEY_SECRET_ARN
    diagnosis = run_agent(DIAGNOSE, diagnose_input().model_dump(mode="json"), lambda_context)
    assert diagnosis["produced_by"] == "fallback"
    assert "ConfigurationError" in _record("diagnose").summary
