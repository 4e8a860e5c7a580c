"""A circuit breaker per model endpoint, its state in the checkpoint table so every Lambda shares it."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

SCHEMA_VERSION = 1
CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures; after ``cooldown_seconds`` let one probe through.

    Item ``BREAKER#<endpoint>`` / ``STATE``: state, consecutive failures, opened_at (epoch seconds).
    A successful probe closes the breaker; a failed one opens it for another cool-down.

    Parameters
    ----------
    table:
        The checkpoint table (boto3 resource Table).
    endpoint:
        What the breaker protects, e.g. ``anthropic:claude-sonnet-4-5``.
    clock:
        Seconds since the epoch; tests inject a fake one instead of sleeping.
    """

    def __init__(
        self,
        table: Any,
        endpoint: str,
        *,
        threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._key = {"pk": f"BREAKER#{endpoint}", "sk": "STATE"}
        self._threshold = threshold
        self._cooldown = cooldown_seconds
        self._clock = clock

    def _item(self) -> dict[str, Any]:
        item = self._table.get_item(Key=self._key, ConsistentRead=True).get("Item") or {}
        return {"state": CLOSED, **item}

    def state(self) -> str:
        """CLOSED, OPEN or HALF_OPEN, as stored."""
        return str(self._item()["state"])

    def allow(self) -> bool:
        """Whether a call may go out now; an open breaker past its cool-down admits exactly one probe."""
        item = self._item()
        if item["state"] == CLOSED:
            return True
        since = Decimal(str(item.get("opened_at", 0)))
        now = self._clock()
        if float(since) + self._cooldown > now:
            return False
        try:
            # The probe slot goes to whoever flips the item first; opened_at moves so a lost probe
            # (a function killed mid-call) frees the slot again after one more cool-down.
            self._table.update_item(
                Key=self._key,
                UpdateExpression="SET #s = :half, opened_at = :now",
                ConditionExpression="opened_at = :since",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":half": HALF_OPEN,
                    ":now": _epoch(now),
                    ":since": item.get("opened_at", 0),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def record_success(self) -> None:
        """Close the breaker and reset the failure count."""
        self._table.put_item(
            Item={**self._key, "state": CLOSED, "failures": 0, "schema_version": SCHEMA_VERSION}
        )

    def record_failure(self) -> bool:
        """Count a failure; return True if this failure opened the breaker."""
        response = self._table.update_item(
            Key=self._key,
            UpdateExpression="ADD failures :one SET schema_version = :v",
            ExpressionAttributeValues={":one": 1, ":v": SCHEMA_VERSION},
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        state = attributes.get("state", CLOSED)
        if state == HALF_OPEN or (state == CLOSED and int(attributes["failures"]) >= self._threshold):
            self._table.update_item(
                Key=self._key,
                UpdateExpression="SET #s = :open, opened_at = :now",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":open": OPEN, ":now": _epoch(self._clock())},
            )
            return True
        return False


def _epoch(seconds: float) -> Decimal:
    return Decimal(str(round(seconds, 3)))
