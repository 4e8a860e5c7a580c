"""What a trace is made of (steps, approvals and their votes, waits): the shape of `controlroom trace --json`.

The field order here is the key order of the JSON document; add fields at the end of a model, never rename.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from controlroom.local.trace_details import Change, Missing


class TraceVote(BaseModel):
    approver: str
    verdict: str
    comment: str
    decided_at: datetime


class TraceApproval(BaseModel):
    """One approval: who was asked, who voted what and when, and how long the flow waited for it."""

    approval_id: str
    status: str
    outcome: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    required_approvals: int
    approvers: list[str]
    votes: list[TraceVote]
    waited_seconds: float | None


class TraceWait(BaseModel):
    """Time between two steps in which nothing ran: a human deciding, a canary baking, a Wait state."""

    after_step: int
    before_step: int | None
    started_at: datetime
    ended_at: datetime | None
    seconds: float
    reason: Literal["approval", "bake", "pause"]
    approval_id: str | None = None


class ToolUse(BaseModel):
    tool: str
    ok: bool
    duration_ms: int
    error_type: str | None


class TraceStep(BaseModel):
    step: int
    agent: str
    status: str
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    produced_by: str
    function_version: str
    flow_revision: str | None
    summary: str
    error_type: str | None
    error_message: str | None
    details: list[str]
    changes: list[Change]
    missing_evidence: list[Missing]
    context_passed: list[str]
    left_out: list[str]
    tool_calls: list[ToolUse]
    notes: list[str]
    approval_id: str | None
    output: dict[str, Any] | None


class Trace(BaseModel):
    kind: Literal["incident", "deployment"]
    id: str
    status: str
    environment: str | None
    subject: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    flow_revisions: list[str]
    steps: list[TraceStep]
    approvals: list[TraceApproval]
    waits: list[TraceWait]

    def to_json(self) -> str:
        """The trace as one JSON document (keys in this model's order, timestamps ISO 8601 UTC)."""
        return json.dumps(self.model_dump(mode="json"), indent=2)
