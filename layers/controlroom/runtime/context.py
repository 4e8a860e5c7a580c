"""What an agent's logic may use besides its input: time budget, tool-call log, stores, settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from controlroom.contracts import ToolCall, utcnow
from controlroom.errors import TimeBudgetExceeded
from controlroom.runtime.stores import Stores
from controlroom.settings import Settings


class ToolCallHandle:
    """Lets the code inside ``ctx.tool(...)`` describe what the call returned."""

    def __init__(self, summary: str = "") -> None:
        self.summary = summary


class AgentContext:
    """One invocation's context: what its logic may use, and what it reports for the decision record.

    A plain class rather than a dataclass: every handler imports it, and a dataclass of this many fields
    compiles its generated methods at import (a millisecond or two of every cold start).
    """

    def __init__(
        self,
        agent: str,
        settings: Settings,
        stores: Stores,
        deadline: datetime,
        function_version: str = "$LATEST",
        incident_id: str | None = None,
        tool_calls: list[ToolCall] | None = None,
        summary: str = "",
        confidence: float | None = None,
        produced_by: Literal["llm", "fallback", "rules"] = "rules",
        model_id: str | None = None,
        prompt_version: str | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost_usd: float = 0.0,
        extra_left_out: list[str] | None = None,
        redactions: dict[str, int] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.stores = stores
        self.deadline = deadline
        self.function_version = function_version
        self.incident_id = incident_id
        self.tool_calls: list[ToolCall] = [] if tool_calls is None else tool_calls
        self.summary = summary
        self.confidence = confidence
        self.produced_by: Literal["llm", "fallback", "rules"] = produced_by
        self.model_id = model_id
        self.prompt_version = prompt_version
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.cost_usd = cost_usd
        self.extra_left_out: list[str] = [] if extra_left_out is None else extra_left_out
        self.redactions: dict[str, int] = {} if redactions is None else redactions
        self.notes: list[str] = [] if notes is None else notes

    def __repr__(self) -> str:
        return (
            f"AgentContext(agent={self.agent!r}, incident_id={self.incident_id!r}, deadline={self.deadline})"
        )

    def remaining_seconds(self) -> float:
        """Seconds left before the agent must have returned."""
        return (self.deadline - utcnow()).total_seconds()

    def check_time(self, needed_seconds: float = 0.0) -> None:
        """Raise TimeBudgetExceeded unless ``needed_seconds`` still fit in the budget."""
        if self.remaining_seconds() <= needed_seconds:
            raise TimeBudgetExceeded(
                f"{self.agent}: {self.remaining_seconds():.1f}s left, needed {needed_seconds:.1f}s"
            )

    @contextmanager
    def tool(self, name: str) -> Iterator[ToolCallHandle]:
        """Time and record one tool call; an exception is recorded and re-raised."""
        handle = ToolCallHandle()
        started = time.perf_counter()
        try:
            yield handle
        except Exception as exc:
            self.tool_calls.append(
                ToolCall(
                    tool=name,
                    ok=False,
                    duration_ms=_ms_since(started),
                    summary=str(exc)[:300],
                    error_type=type(exc).__name__,
                )
            )
            raise
        self.tool_calls.append(
            ToolCall(tool=name, ok=True, duration_ms=_ms_since(started), summary=handle.summary[:300])
        )


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
