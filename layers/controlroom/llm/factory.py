"""Build the model path's dependencies from settings: the client (cached at cold start), budget, breaker, recorder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from controlroom.aws import client as aws_client
from controlroom.aws import resource
from controlroom.errors import ConfigurationError
from controlroom.llm.breaker import CircuitBreaker
from controlroom.llm.budget import TokenBudget
from controlroom.llm.port import ModelClient
from controlroom.llm.pricing import price_table
from controlroom.llm.recording import ExchangeRecorder
from controlroom.llm.structured import ModelDeps
from controlroom.runtime.context import AgentContext
from controlroom.settings import Settings

_override: list[ModelClient] = []


@contextmanager
def override_model_client(model: ModelClient) -> Iterator[ModelClient]:
    """Use ``model`` instead of the configured provider (tests, the local demo, replay) while inside."""
    _override.append(model)
    try:
        yield model
    finally:
        _override.remove(model)


@lru_cache(maxsize=4)
def _api_key(secret_arn: str) -> str:
    secret = aws_client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    try:
        parsed = json.loads(secret)
    except ValueError:
        return str(secret).strip()
    if isinstance(parsed, dict):
        return str(parsed.get("api_key") or parsed.get("ANTHROPIC_API_KEY") or "")
    return str(parsed)


@lru_cache(maxsize=4)
def _configured_client(
    provider: str, model_id: str, secret_arn: str, region: str, max_retries: int, script_file: str
) -> ModelClient:
    if provider == "scripted":
        from controlroom.llm.scripted import ScriptedModel

        if not script_file:
            raise ConfigurationError("MODEL_PROVIDER=scripted needs MODEL_SCRIPT_FILE")
        return ScriptedModel.from_file(script_file, model_id=model_id)
    from controlroom.llm.anthropic_client import AnthropicModel

    if provider == "bedrock":
        return AnthropicModel(
            model_id=model_id, provider="bedrock", region=region or None, max_retries=max_retries
        )
    if not secret_arn:
        raise ConfigurationError("MODEL_PROVIDER=anthropic needs MODEL_API_KEY_SECRET_ARN")
    return AnthropicModel(
        model_id=model_id, provider="anthropic", api_key=_api_key(secret_arn), max_retries=max_retries
    )


def model_client(current: Settings) -> ModelClient | None:
    """The client for the configured provider, or None when MODEL_PROVIDER is ``none``."""
    if _override:
        return _override[-1]
    if current.MODEL_PROVIDER == "none":
        return None
    import os

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    return _configured_client(
        current.MODEL_PROVIDER,
        current.MODEL_ID,
        current.MODEL_API_KEY_SECRET_ARN,
        region,
        current.MODEL_MAX_RETRIES,
        current.MODEL_SCRIPT_FILE,
    )


def model_deps(
    ctx: AgentContext, *, client: ModelClient | None = None, clock: Callable[[], float] = time.time
) -> ModelDeps | None:
    """Everything the model path needs for this invocation, or None when no model is configured.

    Parameters
    ----------
    ctx:
        The agent context (settings name the checkpoint table and the budgets).
    client:
        A client to use instead of the configured one.
    clock:
        Epoch seconds for the circuit breaker (tests inject a fake clock).
    """
    current = ctx.settings
    model = client or model_client(current)
    if model is None:
        return None
    table = resource("dynamodb").Table(current.CHECKPOINT_TABLE)
    return ModelDeps(
        client=model,
        budget=TokenBudget(table, current.TOKEN_BUDGET_PER_INCIDENT, clock=clock),
        breaker=CircuitBreaker(
            table,
            model.endpoint,
            threshold=current.BREAKER_FAILURE_THRESHOLD,
            cooldown_seconds=current.BREAKER_COOLDOWN_SECONDS,
            clock=clock,
        ),
        recorder=ExchangeRecorder(table, current.MODEL_RECORD_BUCKET, lambda: aws_client("s3")),
        prices=price_table(current.MODEL_PRICE_TABLE),
        max_tokens=current.MODEL_MAX_TOKENS,
        timeout_cap_seconds=current.MODEL_TIMEOUT_SECONDS,
        max_retries=current.MODEL_MAX_RETRIES,
    )


def reset_model_clients() -> None:
    """Forget cached clients and API keys (tests that switch providers)."""
    _configured_client.cache_clear()
    _api_key.cache_clear()
