"""The scheduled delivery sweep's event: what the CDK rule sends and how the callback recognises it."""

from __future__ import annotations

from typing import Any

SWEEP_EVENT_KEY = "controlroom_task"
SWEEP_TASK = "deliver_decided_approvals"
# How often undelivered decisions are retried; well inside the approval state's timeout.
SWEEP_RATE_MINUTES = 1


def sweep_event() -> dict[str, str]:
    """The constant input of the schedule's target."""
    return {SWEEP_EVENT_KEY: SWEEP_TASK}


def is_sweep_event(event: Any) -> bool:
    """The scheduled rule's constant input (not an API Gateway request)."""
    return isinstance(event, dict) and event.get(SWEEP_EVENT_KEY) == SWEEP_TASK
