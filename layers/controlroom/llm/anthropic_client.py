"""ModelClient adapters on the anthropic SDK: the Anthropic API (key from Secrets Manager) and Bedrock (IAM).

``import anthropic`` happens only when an adapter is constructed: it costs about 0.85 s, which the
deterministic agents (and every cold start with MODEL_PROVIDER=none) must not pay.
"""

from __future__ import annotations

from typing import Any, Literal

from controlroom.errors import ConfigurationError, TransientDependencyError
from controlroom.llm.port import ModelClient, ModelReply, ModelRequest

Provider = Literal["anthropic", "bedrock"]


class AnthropicModel(ModelClient):
    """Claude through the anthropic SDK, on the Anthropic API or on Amazon Bedrock.

    Parameters
    ----------
    model_id:
        Model id (``claude-sonnet-4-5``) or, on Bedrock, a model or inference-profile id.
    provider:
        ``anthropic`` (needs ``api_key``) or ``bedrock`` (IAM credentials of the function).
    api_key:
        The Anthropic API key; never logged, never recorded.
    region:
        Bedrock region; defaults to the function's region.
    max_retries:
        SDK retries on 429, 5xx, timeouts and connection errors, with its own backoff.
    http_client:
        An ``httpx2.Client`` to send requests through (tests pass one with a mock transport).
    """

    def __init__(
        self,
        *,
        model_id: str,
        provider: Provider = "anthropic",
        api_key: str | None = None,
        region: str | None = None,
        max_retries: int = 2,
        http_client: Any = None,
    ) -> None:
        import anthropic

        self.model_id = model_id
        if provider == "bedrock":
            self.endpoint = f"bedrock:{region or 'default'}:{model_id}"
            self._client: Any = anthropic.AnthropicBedrock(
                aws_region=region, max_retries=max_retries, http_client=http_client
            )
        else:
            if not api_key:
                raise ConfigurationError(
                    "MODEL_PROVIDER=anthropic needs an API key (MODEL_API_KEY_SECRET_ARN)"
                )
            self.endpoint = f"anthropic:{model_id}"
            self._client = anthropic.Anthropic(
                api_key=api_key, max_retries=max_retries, http_client=http_client
            )

    def complete(self, request: ModelRequest) -> ModelReply:
        """Call the Messages API with the request's tool forced; translate SDK errors to named ones."""
        import anthropic

        try:
            message = self._client.messages.create(
                model=self.model_id,
                max_tokens=request.max_tokens,
                system=request.system,
                messages=request.messages,
                timeout=request.timeout_seconds,
                tools=[
                    {
                        "name": request.tool.name,
                        "description": request.tool.description,
                        "input_schema": request.tool.input_schema,
                    }
                ],
                tool_choice={"type": "tool", "name": request.tool.name},
            )
        except anthropic.APITimeoutError as exc:
            raise TransientDependencyError(
                f"model call timed out after {request.timeout_seconds:.1f}s"
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise TransientDependencyError(f"model endpoint unreachable: {type(exc).__name__}") from exc
        except anthropic.APIStatusError as exc:
            if exc.status_code in {408, 409, 429} or exc.status_code >= 500:
                raise TransientDependencyError(f"model endpoint answered {exc.status_code}") from exc
            raise ConfigurationError(f"model endpoint refused the request ({exc.status_code})") from exc
        return _reply_of(message, request.tool.name)


def _reply_of(message: Any, tool_name: str) -> ModelReply:
    tool_input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    texts: list[str] = []
    for block in message.content:
        if block.type == "tool_use" and block.name == tool_name and tool_input is None:
            tool_input = dict(block.input) if isinstance(block.input, dict) else None
            tool_use_id = block.id
        elif block.type == "text":
            texts.append(block.text)
    return ModelReply(
        model_id=str(message.model),
        tool_input=tool_input,
        tool_use_id=tool_use_id,
        text="\n".join(texts),
        stop_reason=message.stop_reason,
        tokens_in=_input_tokens(message.usage),
        tokens_out=int(message.usage.output_tokens),
    )


def _input_tokens(usage: Any) -> int:
    # Cached prompt tokens are billed too; count them against the budget like any other input.
    return (
        int(usage.input_tokens)
        + int(usage.cache_creation_input_tokens or 0)
        + int(usage.cache_read_input_tokens or 0)
    )
