"""What an agent's logic may use besides its input: time budget, tool-call log, stores, settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from controlroom.contracts import ToolCall, utcnow
from controlroom.errors import TimeBudgetExceeded
from controlroom.runtime.stores import Stores
from controlroom.settings import Settings


@dataclass
class ToolCallHandle:
    """Lets the code inside ``ctx.tool(...)`` describe what the call returned."""

    summary: str = ""


@dataclass
class AgentContext:
    agent: str
    settings: Settings
    stores: Stores
    deadline: datetime
    function_version: str = "$LATEST"
    incident_id: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    summary: str = ""
    confidence: float | None = None
    produced_by: Literal["llm", "fallback", "rules"] = "rules"
    model_id: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    extra_left_out: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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
