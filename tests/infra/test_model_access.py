"""The model path's access: chosen per environment, granted to Diagnose and Plan only."""

from __future__ import annotations

import pytest

from .template_tools import actions, resources_of, statements_by_role


def _env_of(template: dict, function_name: str) -> dict[str, str]:
    for function in resources_of(template, "AWS::Lambda::Function").values():
        if function["Properties"]["FunctionName"] == function_name:
            return function["Properties"]["Environment"]["Variables"]
    raise AssertionError(f"no function {function_name}")


def _roles_with(template: dict, action: str) -> set[str]:
    return {
        role
        for role, statements in statements_by_role(template).items()
        if any(action in actions(statement) for statement in statements)
    }


def test_default_is_rules_only_with_no_model_access(local):
    _, template = local
    document = template.to_json()
    assert _env_of(document, "controlroom-local-diagnose")["MODEL_PROVIDER"] == "none"
    assert _roles_with(document, "bedrock:InvokeModel") == set()
    assert not any(
        "anthropic-api-key" in str(secret["Properties"].get("Name"))
        for secret in resources_of(document, "AWS::SecretsManager::Secret").values()
    )


def test_bedrock_is_invocable_by_diagnose_and_plan_only(synth):
    _, template = synth("local", model_provider="bedrock", model_id="us.anthropic.claude-sonnet-4-6")
    document = template.to_json()
    granted = _roles_with(document, "bedrock:InvokeModel")
    assert len(granted) == 2 and all("diagnose" in role or "plan" in role for role in granted)
    for statements in statements_by_role(document).values():
        for statement in statements:
            if "bedrock:InvokeModel" in actions(statement):
                assert actions(statement) == {"bedrock:InvokeModel"}
    assert _env_of(document, "controlroom-local-plan")["MODEL_ID"] == "us.anthropic.claude-sonnet-4-6"
    assert _env_of(document, "controlroom-local-plan")["MODEL_PROVIDER"] == "bedrock"


def test_anthropic_key_secret_is_readable_by_diagnose_and_plan_only(synth):
    _, template = synth("local", model_provider="anthropic")
    document = template.to_json()
    secrets = [
        key
        for key, secret in resources_of(document, "AWS::SecretsManager::Secret").items()
        if "anthropic-api-key" in str(secret["Properties"].get("Name"))
    ]
    assert len(secrets) == 1
    readers = {
        role
        for role, statements in statements_by_role(document).items()
        if any(
            "secretsmanager:GetSecretValue" in actions(s) and secrets[0] in str(s["Resource"])
            for s in statements
        )
    }
    assert len(readers) == 2 and all("diagnose" in role or "plan" in role for role in readers)
    assert "MODEL_API_KEY_SECRET_ARN" in _env_of(document, "controlroom-local-diagnose")
    assert "MODEL_API_KEY_SECRET_ARN" not in _env_of(document, "controlroom-local-execute")


def test_unknown_model_provider_fails_synth_naming_the_key(synth):
    with pytest.raises(Exception, match="model_provider"):
        synth("local", model_provider="openai")
