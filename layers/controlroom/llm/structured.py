"""One structured model decision: breaker, time and token budgets, the call, validation, one repair."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from controlroom.llm.breaker import CircuitBreaker
from controlroom.llm.budget import SOFT_LIMIT, TokenBudget
from controlroom.llm.port import ModelClient, ModelReply, ModelRequest, ToolSpec
from controlroom.llm.pricing import DEFAULT_PRICES, cost_usd
from controlroom.llm.prompting import Prompt
from controlroom.llm.recording import ExchangeRecorder
from controlroom.metric_names import (
    MODEL_BREAKER_OPENED,
    MODEL_CALLS,
    MODEL_COST_USD,
    MODEL_TOKENS_IN,
    MODEL_TOKENS_OUT,
    TOKEN_BUDGET_EXHAUSTED,
    TOKEN_BUDGET_SOFT_LIMIT,
)
from controlroom.runtime.context import AgentContext
from controlroom.runtime.observability import logger, metrics

T = TypeVar("T")

# Seconds kept back for the fallback and the decision record after a model call gives up.
FALLBACK_RESERVE_SECONDS = 2.0
MIN_CALL_SECONDS = 1.0
MAX_ATTEMPTS = 2  # the first answer and one repair


class FallbackRequired(Exception):
    """The model path cannot produce a valid decision; ``reason`` says why (recorded and logged)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class ModelDeps:
    """What the model path needs besides the agent context; ``None`` parts are switched off (replay)."""

    client: ModelClient
    budget: TokenBudget | None = None
    breaker: CircuitBreaker | None = None
    recorder: ExchangeRecorder | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    max_tokens: int = 2048
    timeout_cap_seconds: float = 60.0
    max_retries: int = 2


@dataclass(frozen=True)
class StructuredTask(Generic[T]):
    """A decision asked of the model: prompt, forced tool, the user message, and how to validate the answer."""

    purpose: str
    prompt: Prompt
    tool: ToolSpec
    user_message: str
    finalize: Callable[[dict[str, Any]], T]


def call_structured(task: StructuredTask[T], ctx: AgentContext, deps: ModelDeps) -> T:
    """Ask the model for ``task``; validate; on a contract error send it back once; else FallbackRequired."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": task.user_message}]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        reply = _one_call(task, messages, ctx, deps)
        try:
            if reply.tool_input is None:
                raise ValueError(f"the answer did not call the tool {task.tool.name}")
            return task.finalize(reply.tool_input)
        except (ValidationError, ValueError, TypeError) as exc:
            problem = _describe(exc)
            logger.warning(
                "model output rejected", purpose=task.purpose, attempt=attempt, problem=problem[:500]
            )
            if attempt == MAX_ATTEMPTS:
                raise FallbackRequired("invalid_output", problem) from None
            metrics.add_metric(name="ModelRepairs", unit=MetricUnit.Count, value=1)
            messages = [*messages, *_repair_turns(task.tool, reply, problem)]
    raise FallbackRequired("invalid_output")  # pragma: no cover - the loop always returns or raises


def _describe(exc: Exception) -> str:
    # Without input values: they may echo untrusted text back into the conversation.
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)[:10]
        )
    return str(exc)[:1000]


def _repair_turns(tool: ToolSpec, reply: ModelReply, problem: str) -> list[dict[str, Any]]:
    instruction = (
        f"The input was rejected by the contract: {problem}. Call {tool.name} again with corrected "
        "input. Use only the action types and fields the tool schema allows."
    )
    if reply.tool_use_id and reply.tool_input is not None:
        return [
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": reply.tool_use_id,
                        "name": tool.name,
                        "input": reply.tool_input,
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": reply.tool_use_id,
                        "is_error": True,
                        "content": instruction,
                    }
                ],
            },
        ]
    return [
        {"role": "assistant", "content": reply.text or "(no tool call)"},
        {"role": "user", "content": instruction},
    ]


def _timeout(ctx: AgentContext, deps: ModelDeps) -> float:
    usable = ctx.remaining_seconds() - FALLBACK_RESERVE_SECONDS
    # The SDK applies the timeout to each attempt, so split what is left across its retries.
    per_attempt = min(deps.timeout_cap_seconds, usable / (deps.max_retries + 1))
    if per_attempt < MIN_CALL_SECONDS:
        raise FallbackRequired("time_budget", f"{ctx.remaining_seconds():.1f}s left")
    return round(per_attempt, 3)


def _one_call(
    task: StructuredTask[T], messages: list[dict[str, Any]], ctx: AgentContext, deps: ModelDeps
) -> ModelReply:
    if deps.breaker is not None and not deps.breaker.allow():
        metrics.add_metric(name="ModelBreakerOpen", unit=MetricUnit.Count, value=1)
        raise FallbackRequired("breaker_open", deps.client.endpoint)
    timeout = _timeout(ctx, deps)
    if deps.budget is not None and not ctx.incident_id:
        raise FallbackRequired("no_incident", "a token budget needs an incident to charge")
    request = ModelRequest(
        purpose=task.purpose,
        prompt_version=task.prompt.version,
        system=task.prompt.text,
        messages=messages,
        tool=task.tool,
        timeout_seconds=timeout,
        max_tokens=deps.max_tokens,
    )
    reservation = None
    if deps.budget is not None:
        # Input and output are reserved before the call: the call that is made fits the hard limit.
        reservation = deps.budget.reserve(
            ctx.incident_id or "", deps.max_tokens, input_tokens=deps.client.input_token_bound(request)
        )
        if reservation is None:
            metrics.add_metric(name=TOKEN_BUDGET_EXHAUSTED, unit=MetricUnit.Count, value=1)
            _note(ctx, "token budget", "token budget exhausted (100%): model not called")
            raise FallbackRequired("token_budget")
        request = replace(request, max_tokens=reservation.max_tokens)
    ctx.model_id, ctx.prompt_version = deps.client.model_id, task.prompt.version
    started = time.perf_counter()
    try:
        with ctx.tool(f"model:{task.purpose}") as handle:
            reply = deps.client.complete(request)
            handle.summary = f"{reply.model_id} in={reply.tokens_in} out={reply.tokens_out}"
    except Exception as exc:
        _failed(ctx, deps, request, reservation, exc, _ms_since(started))
        raise FallbackRequired("model_error", f"{type(exc).__name__}: {exc}") from exc
    _succeeded(ctx, deps, request, reservation, reply, _ms_since(started))
    return reply


def _failed(
    ctx: AgentContext,
    deps: ModelDeps,
    request: ModelRequest,
    reservation: Any,
    exc: Exception,
    latency_ms: int,
) -> None:
    if deps.budget is not None and reservation is not None:
        deps.budget.settle(reservation, 0)
    if deps.breaker is not None and deps.breaker.record_failure():
        metrics.add_metric(name=MODEL_BREAKER_OPENED, unit=MetricUnit.Count, value=1)
        _note(ctx, "circuit breaker", f"circuit breaker opened for {deps.client.endpoint}")
    if deps.recorder is not None and ctx.incident_id:
        deps.recorder.record(
            ctx.incident_id,
            ctx.agent,
            request,
            None,
            error=f"{type(exc).__name__}: {exc}",
            latency_ms=latency_ms,
        )
    metrics.add_metric(name="ModelFailures", unit=MetricUnit.Count, value=1)


def _succeeded(
    ctx: AgentContext,
    deps: ModelDeps,
    request: ModelRequest,
    reservation: Any,
    reply: ModelReply,
    latency_ms: int,
) -> None:
    if deps.breaker is not None:
        deps.breaker.record_success()
    cost = cost_usd(reply.model_id or deps.client.model_id, reply.tokens_in, reply.tokens_out, deps.prices)
    ctx.tokens_in += reply.tokens_in
    ctx.tokens_out += reply.tokens_out
    ctx.cost_usd = round(ctx.cost_usd + cost, 6)
    ctx.model_id = reply.model_id or ctx.model_id
    if deps.budget is not None and reservation is not None:
        state = deps.budget.settle(reservation, reply.tokens_in + reply.tokens_out)
        if state.crossed_soft_limit:
            metrics.add_metric(name=TOKEN_BUDGET_SOFT_LIMIT, unit=MetricUnit.Count, value=1)
        if state.fraction >= SOFT_LIMIT:
            _note(ctx, "token budget", f"token budget {state.fraction:.0%} used ({state.used}/{state.limit})")
    if deps.recorder is not None and ctx.incident_id:
        deps.recorder.record(ctx.incident_id, ctx.agent, request, reply, latency_ms=latency_ms, cost_usd=cost)
    metrics.add_metric(name=MODEL_CALLS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ModelLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.add_metric(name=MODEL_TOKENS_IN, unit=MetricUnit.Count, value=reply.tokens_in)
    metrics.add_metric(name=MODEL_TOKENS_OUT, unit=MetricUnit.Count, value=reply.tokens_out)
    metrics.add_metric(name=MODEL_COST_USD, unit=MetricUnit.NoUnit, value=cost)
    logger.info(
        "model call",
        purpose=request.purpose,
        model_id=reply.model_id,
        prompt_version=request.prompt_version,
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        cost_usd=cost,
        latency_ms=latency_ms,
    )


def _note(ctx: AgentContext, kind: str, note: str) -> None:
    # One note per kind: a repaired call updates the budget line instead of adding a second one.
    ctx.notes[:] = [existing for existing in ctx.notes if not existing.startswith(kind)]
    ctx.notes.append(note)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
