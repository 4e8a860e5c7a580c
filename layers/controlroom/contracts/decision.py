"""The decision record every agent writes: what it saw, what it left out, what it decided."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from controlroom.contracts.base import Contract


class ToolCall(Contract):
    tool: str
    ok: bool
    duration_ms: int
    summary: str = ""
    error_type: str | None = None


class DecisionRecord(Contract):
    incident_id: str
    agent: str
    agent_version: str = Field(..., description="Code version of the agent (package version).")
    function_version: str = Field(..., description="Lambda version or alias that ran ($LATEST locally).")
    flow_revision: str | None = Field(
        None,
        description="Digest of the state machine definition that ran the step, from the flow state's "
        "flow_revision (set by its Normalise state); None when the event carried none.",
        examples=["sha256:ab12cd34ef56"],
    )
    step: int = Field(..., ge=0, description="Position in the incident's timeline.")
    status: Literal["ok", "error"]
    started_at: datetime
    duration_ms: int
    input_digest: str
    context_passed: list[str] = Field(default_factory=list)
    left_out: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    summary: str = ""
    output: dict[str, Any] | None = None
    confidence: float | None = None
    produced_by: Literal["llm", "fallback", "rules"] = "rules"
    model_id: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    error_type: str | None = None
    error_message: str | None = None
    redactions: dict[str, int] = Field(
        default_factory=dict, description="What was redacted before text reached a model, by kind."
    )
    notes: list[str] = Field(default_factory=list, description="Timeline notes, e.g. a token-budget warning.")
