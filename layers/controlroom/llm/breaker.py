"""A circuit breaker per model endpoint, its state in the checkpoint table so every Lambda shares it."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE
from controlroom.store.versions import check_version

SCHEMA_VERSION = 1
CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
# DynamoDB deletes the state this long after its last change: an endpoint nobody calls any more
# leaves nothing behind, and a week is far longer than any cool-down.
TTL_SECONDS = 7 * 86400


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures; after ``cooldown_seconds`` let one probe through.

    Item ``BREAKER#<endpoint>`` / ``STATE``: state, consecutive failures, opened_at (epoch seconds),
    and the TTL attribute, moved to ``TTL_SECONDS`` after every write.
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
        check_version(item, SCHEMA_VERSION, f"breaker {self._key['pk']}")
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
                UpdateExpression="SET #s = :half, opened_at = :now, #ttl = :ttl",
                ConditionExpression="opened_at = :since",
                ExpressionAttributeNames={"#s": "state", "#ttl": CHECKPOINT_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":half": HALF_OPEN,
                    ":now": _epoch(now),
                    ":since": item.get("opened_at", 0),
                    ":ttl": self._expires_at(),
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
            Item={
                **self._key,
                "state": CLOSED,
                "failures": 0,
                "schema_version": SCHEMA_VERSION,
                CHECKPOINT_TTL_ATTRIBUTE: self._expires_at(),
            }
        )

    def record_failure(self) -> bool:
        """Count a failure; return True if this failure opened the breaker."""
        response = self._table.update_item(
            Key=self._key,
            UpdateExpression="ADD failures :one SET schema_version = :v, #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": CHECKPOINT_TTL_ATTRIBUTE},
            ExpressionAttributeValues={":one": 1, ":v": SCHEMA_VERSION, ":ttl": self._expires_at()},
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        state = attributes.get("state", CLOSED)
        if state == HALF_OPEN or (state == CLOSED and int(attributes["failures"]) >= self._threshold):
            self._table.update_item(
                Key=self._key,
                UpdateExpression="SET #s = :open, opened_at = :now, #ttl = :ttl",
                ExpressionAttributeNames={"#s": "state", "#ttl": CHECKPOINT_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":open": OPEN,
                    ":now": _epoch(self._clock()),
                    ":ttl": self._expires_at(),
                },
            )
            return True
        return False

    def _expires_at(self) -> int:
        """Epoch seconds at which DynamoDB may delete the state: TTL_SECONDS after this write."""
        return int(self._clock()) + TTL_SECONDS


def _epoch(seconds: float) -> Decimal:
    return Decimal(str(round(seconds, 3)))
