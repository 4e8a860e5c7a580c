"""cdk.json context: every environment validates, and a wrong value fails naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from infra_cdk.config import ConfigError, EnvironmentConfig, read_cdk_json_context, resolve

from controlroom.contracts.policy import AutonomyMode

CONTEXT = read_cdk_json_context()


def _resolve(**extra: Any) -> EnvironmentConfig:
    return resolve({**CONTEXT, **extra})[1]


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_every_environment_in_cdk_json_is_valid(env: str) -> None:
    name, config = resolve({**CONTEXT, "env": env})
    assert name == env
    assert config.approval_ttl_seconds < config.approval_timeout_seconds


def test_local_is_fast_and_supervised() -> None:
    config = _resolve(env="local")
    assert config.account == "123456789012"
    assert config.autonomy_mode is AutonomyMode.SUPERVISED
    assert (config.verify_wait_seconds, config.retry_interval_seconds) == (1, 1)
    assert (config.approval_timeout_seconds, config.agent_timeout_seconds) == (300, 60)
    assert config.layer_mode == "source-only"


def test_prod_is_gated_retained_and_needs_two_approvals() -> None:
    config = _resolve(env="prod")
    assert config.autonomy_mode is AutonomyMode.GATED
    assert config.required_approvals == 2
    assert config.removal_policy == "retain"


def test_missing_env_names_the_key() -> None:
    with pytest.raises(ConfigError, match="context key 'env' is required"):
        resolve(CONTEXT)


def test_unknown_env_names_the_key_and_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"context key 'env': 'qa' is not an environment; choose one of dev, local"
    ):
        _resolve(env="qa")


def test_bad_value_names_the_key_in_cdk_json() -> None:
    context = {
        **CONTEXT,
        "env": "dev",
        "environments": {"dev": {**CONTEXT["environments"]["dev"], "autonomy_mode": "yolo"}},
    }
    with pytest.raises(ConfigError, match=r"environments\.dev\.autonomy_mode"):
        resolve(context)


def test_unknown_key_is_refused() -> None:
    context = {
        **CONTEXT,
        "env": "dev",
        "environments": {"dev": {**CONTEXT["environments"]["dev"], "aproval_timeout": 5}},
    }
    with pytest.raises(ConfigError, match=r"environments\.dev\.aproval_timeout': Extra inputs"):
        resolve(context)


def test_missing_key_is_named() -> None:
    block = {k: v for k, v in CONTEXT["environments"]["staging"].items() if k != "region"}
    with pytest.raises(ConfigError, match=r"environments\.staging\.region': Field required"):
        resolve({**CONTEXT, "env": "staging", "environments": {"staging": block}})


def test_command_line_overrides_are_coerced() -> None:
    # Given overrides as the CDK CLI passes them (-c override:key=value gives strings)
    config = _resolve(
        env="local",
        **{
            "override:approval_timeout_seconds": "5",
            "override:approvers": "a@example.com, b@example.com",
            "override:confidence_threshold": "0.9",
        },
    )
    assert config.approval_timeout_seconds == 5
    assert config.approvers == ["a@example.com", "b@example.com"]
    assert config.confidence_threshold == 0.9
    assert config.asl_numbers()["ApprovalTimeoutSeconds"] == 5


def test_bad_override_names_the_override_key() -> None:
    with pytest.raises(ConfigError, match=r"context key 'override:approval_timeout_seconds'"):
        _resolve(env="local", **{"override:approval_timeout_seconds": "soon"})
    with pytest.raises(ConfigError, match=r"context key 'override:no_such_setting': Extra inputs"):
        _resolve(env="local", **{"override:no_such_setting": "1"})


def test_required_approvals_cannot_exceed_approvers() -> None:
    with pytest.raises(ConfigError, match="required_approvals"):
        _resolve(env="local", **{"override:required_approvals": "3"})


def test_log_retention_must_be_a_cloudwatch_period() -> None:
    with pytest.raises(ConfigError, match="log_retention_days"):
        _resolve(env="local", **{"override:log_retention_days": "2"})


@pytest.mark.parametrize(("timeout", "ttl"), [(5, 5), (30, 27), (300, 270), (3600, 3540)])
def test_approval_links_expire_before_the_state_times_out(timeout: int, ttl: int) -> None:
    config = _resolve(env="local", **{"override:approval_timeout_seconds": str(timeout)})
    assert config.approval_ttl_seconds == ttl


@pytest.mark.parametrize("tag", ["=true", " =x"])
def test_an_opt_in_tag_without_a_key_names_the_key(tag: str) -> None:
    with pytest.raises(ConfigError, match="alarm_opt_in_tag"):
        resolve({**read_cdk_json_context(), "env": "dev", "override:alarm_opt_in_tag": tag})


@pytest.mark.parametrize(
    ("provider", "model_id"),
    [
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("bedrock", "global.anthropic.claude-sonnet-4-6"),
        ("anthropic", "claude-sonnet-4-6"),
        ("none", "anything: the rules never call a model"),
    ],
)
def test_a_model_id_the_provider_knows_is_accepted(provider: str, model_id: str) -> None:
    config = _resolve(env="dev", **{"override:model_provider": provider, "override:model_id": model_id})
    assert (config.model_provider, config.model_id) == (provider, model_id)


@pytest.mark.parametrize(
    ("provider", "model_id", "why"),
    [
        # the Claude API's name for the model: Bedrock answers ValidationException on the first incident
        ("bedrock", "claude-sonnet-4-6", "not a Bedrock Anthropic model"),
        # another vendor's model on Bedrock: outside the agents' IAM grant (anthropic.* only)
        ("bedrock", "meta.llama3-70b-instruct-v1:0", "not a Bedrock Anthropic model"),
        # an application inference profile ARN: outside the grant too
        (
            "bedrock",
            "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123",
            "not a Bedrock Anthropic model",
        ),
        ("anthropic", "us.anthropic.claude-sonnet-4-6", "not a Claude API model id"),
    ],
)
def test_a_model_id_the_provider_would_refuse_fails_synth_naming_the_key(
    provider: str, model_id: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=rf"context key 'override:model_id'.*{why}"):
        _resolve(env="dev", **{"override:model_provider": provider, "override:model_id": model_id})


def test_bedrock_with_the_default_model_id_asks_for_one() -> None:
    # The default is the Claude API's id; switching the provider alone must not deploy a model Bedrock lacks.
    with pytest.raises(ConfigError, match=r"model_id.*'claude-sonnet-4-6' with model_provider 'bedrock'"):
        _resolve(env="dev", **{"override:model_provider": "bedrock"})
