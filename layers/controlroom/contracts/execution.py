"""What Execute did, per action, and what Verify and Close observed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from controlroom.contracts.base import Contract
from controlroom.contracts.incident import IncidentStatus


class ActionResult(Contract):
    action_id: str
    action_type: str
    status: Literal["succeeded", "dry_run", "skipped", "failed"]
    detail: str
    before: dict[str, str] = Field(default_factory=dict)
    after: dict[str, str] = Field(default_factory=dict)


class ExecutionReport(Contract):
    dry_run: bool
    plan_digest: str
    results: list[ActionResult]
    executed_at: datetime


class VerifyResult(Contract):
    recovered: bool
    alarm_state: str
    checked_at: datetime
    detail: str
    breaching_datapoints: int = 0


class CloseResult(Contract):
    incident_id: str
    status: IncidentStatus
    summary: str
    notified: bool
    closed_at: datetime
