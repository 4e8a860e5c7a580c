"""The model client port: one request/reply shape every adapter (Anthropic, Bedrock, scripted, replay) speaks."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """The one tool the model must call; its input schema is derived from a pydantic contract."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ModelRequest:
    """Everything one model call sends: system prompt, messages, the forced tool, limits."""

    purpose: str
    prompt_version: str
    system: str
    messages: list[dict[str, Any]]
    tool: ToolSpec
    max_tokens: int
    timeout_seconds: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as recorded for replay."""
        return asdict(self)


@dataclass(frozen=True)
class ModelReply:
    """What came back: the tool input (if the model called the tool), text, stop reason and usage."""

    model_id: str
    tool_input: dict[str, Any] | None
    tool_use_id: str | None = None
    text: str = ""
    stop_reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as recorded for replay."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelReply:
        """Rebuild a reply from its recorded form."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


# Role markers, tool-use blocks and the forced tool_choice cost tokens the request text does not show.
_FRAMING_TOKENS = 256


class ModelClient(ABC):
    """Port: send one request, get one reply, or raise a named controlroom error.

    Adapters raise ``TransientDependencyError`` for throttling, 5xx, timeouts and connection
    failures (after their own retries) and ``ConfigurationError`` for requests the endpoint
    refuses; callers treat any exception as a failed call.
    """

    model_id: str
    endpoint: str

    @abstractmethod
    def complete(self, request: ModelRequest) -> ModelReply:
        """Send ``request`` and return the model's reply."""

    def input_token_bound(self, request: ModelRequest) -> int:
        """Input tokens ``request`` can cost at most, reserved from the budget before the call.

        Byte-level BPE tokenizers never make more tokens than the text has UTF-8 bytes, so the bytes of
        the system prompt, messages and tool schema, plus the framing around them, bound the input from
        above without a network call. Adapters with an exact count may override it.
        """
        text = json.dumps([request.system, request.messages, asdict(request.tool)], ensure_ascii=False)
        return len(text.encode("utf-8")) + _FRAMING_TOKENS
