"""Evidence tool: error lines from the function's log group around the alarm (FilterLogEvents)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controlroom.contracts import LogSample, ResourceRef
from controlroom.tools.evidence_common import NotApplicable, epoch_ms

ERROR_FILTER_PATTERN = "?ERROR ?Error ?Exception ?Traceback"
MAX_LOG_LINES = 20
MAX_MESSAGE_CHARS = 2000
_MAX_PAGES = 5


def log_group_of(resource: ResourceRef, prefix: str) -> str:
    """The log group to sample for a resource; only Lambda functions have a known one.

    Raises
    ------
    NotApplicable
        For any resource that is not a Lambda function.
    """
    if resource.kind != "lambda_function":
        raise NotApplicable(f"no log group is known for {resource.kind} resources")
    return prefix + resource.name


def fetch_log_samples(logs: Any, log_group: str, start: datetime, end: datetime) -> list[LogSample]:
    """At most 20 error lines (refs ``log:<n>``), each message cut to 2000 characters.

    Log text is untrusted: it is returned as data and never interpreted.
    """
    request: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": epoch_ms(start),
        "endTime": epoch_ms(end),
        "filterPattern": ERROR_FILTER_PATTERN,
        "limit": MAX_LOG_LINES,
    }
    samples: list[LogSample] = []
    for _ in range(_MAX_PAGES):
        response = logs.filter_log_events(**request)
        for event in response.get("events", []):
            if len(samples) >= MAX_LOG_LINES:
                return samples
            samples.append(
                LogSample(
                    ref=f"log:{len(samples) + 1}",
                    log_group=log_group,
                    timestamp=datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC),
                    message=str(event.get("message", ""))[:MAX_MESSAGE_CHARS],
                )
            )
        if len(samples) >= MAX_LOG_LINES or not response.get("nextToken"):
            break
        request["nextToken"] = response["nextToken"]
    return samples
