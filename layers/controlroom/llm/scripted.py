"""A scripted ModelClient for tests and the local demo: answers from a list, no network."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from controlroom.errors import TransientDependencyError
from controlroom.llm.port import ModelClient, ModelReply, ModelRequest

# One scripted answer: the tool input, a whole reply, an exception to raise, or a function of the request.
Step = dict[str, Any] | ModelReply | BaseException | Callable[[ModelRequest], Any]


class ScriptedModel(ModelClient):
    """Answer each call with the next scripted step (per purpose when the script is a mapping).

    Parameters
    ----------
    script:
        A list of steps used in order, or ``{"diagnose": [...], "plan": [...]}``.
    model_id:
        The model id the replies claim (prices are looked up by it).
    tokens_in, tokens_out:
        Usage each reply reports, so budgets and costs can be tested.
    """

    def __init__(
        self,
        script: Sequence[Step] | Mapping[str, Sequence[Step]],
        *,
        model_id: str = "scripted",
        tokens_in: int = 400,
        tokens_out: int = 200,
    ) -> None:
        self.model_id = model_id
        self.endpoint = f"scripted:{model_id}"
        self._script: dict[str, list[Step]] = (
            {purpose: list(steps) for purpose, steps in script.items()}
            if isinstance(script, Mapping)
            else {"*": list(script)}
        )
        self._tokens = (tokens_in, tokens_out)
        self.requests: list[ModelRequest] = []

    @classmethod
    def from_file(cls, path: str, *, model_id: str = "scripted") -> ScriptedModel:
        """Load ``{"diagnose": [tool_input, ...], "plan": [...]}`` from a JSON file (the local demo)."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), model_id=model_id)

    def input_token_bound(self, request: ModelRequest) -> int:
        """The scripted usage is the fake's tokenizer: each call costs ``tokens_in`` input tokens."""
        return self._tokens[0]

    def complete(self, request: ModelRequest) -> ModelReply:
        """Pop the next step for the request's purpose and turn it into a reply."""
        self.requests.append(request)
        steps = self._script.get(request.purpose, self._script.get("*", []))
        if not steps:
            raise TransientDependencyError(f"scripted model has no answer left for {request.purpose}")
        step = steps.pop(0)
        if callable(step) and not isinstance(step, BaseException):
            step = step(request)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, ModelReply):
            return step
        return ModelReply(
            model_id=self.model_id,
            tool_input=dict(step),
            tool_use_id=f"toolu_{len(self.requests)}",
            stop_reason="tool_use",
            tokens_in=self._tokens[0],
            tokens_out=self._tokens[1],
        )
