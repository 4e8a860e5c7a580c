"""The token budget of an incident, kept outside the model in the checkpoint table (atomic updates)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from controlroom.store.tables import CHECKPOINT_TTL_ATTRIBUTE
from controlroom.store.versions import check_version

SCHEMA_VERSION = 1
SOFT_LIMIT = 0.8
_TTL_SECONDS = 30 * 86400
_ATTEMPTS = 5


@dataclass(frozen=True)
class Reservation:
    """Tokens set aside for one call: its input (bounded from above) and ``max_tokens`` of output."""

    incident_id: str
    max_tokens: int
    limit: int
    input_tokens: int = 0

    @property
    def reserved(self) -> int:
        return self.input_tokens + self.max_tokens


@dataclass(frozen=True)
class BudgetState:
    used: int
    limit: int
    crossed_soft_limit: bool = False

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 1.0


class TokenBudget:
    """Reserve before a call, settle after it; item ``BUDGET#<incident_id>`` / ``TOKENS``.

    Parameters
    ----------
    table:
        The checkpoint table (boto3 resource Table).
    limit:
        Tokens (input + output) the incident may use; fixed on the incident's first reservation.
    min_call_tokens:
        A call that could not even get this many output tokens is not made (hard stop).
    """

    def __init__(self, table: Any, limit: int, *, min_call_tokens: int = 256, clock: Any = time.time) -> None:
        self._table = table
        self._limit = limit
        self._min_call_tokens = min_call_tokens
        self._clock = clock

    def _key(self, incident_id: str) -> dict[str, str]:
        return {"pk": f"BUDGET#{incident_id}", "sk": "TOKENS"}

    def state(self, incident_id: str) -> BudgetState:
        """Tokens used (including open reservations) and the incident's limit."""
        item = self._table.get_item(Key=self._key(incident_id), ConsistentRead=True).get("Item") or {}
        check_version(item, SCHEMA_VERSION, f"token budget BUDGET#{incident_id}")
        return BudgetState(used=int(item.get("used", 0)), limit=int(item.get("limit_tokens", self._limit)))

    def reserve(self, incident_id: str, wanted: int, *, input_tokens: int = 0) -> Reservation | None:
        """Set aside the call's input and ``min(wanted, what is left)`` output tokens, or return None.

        Input and output are both reserved before the call, so a call that is made can never take the
        incident past its limit (the model cannot answer with more than ``max_tokens``, and
        ``input_tokens`` is an upper bound). The update is conditional on the usage read, so two agents
        racing for the last tokens cannot both get them; the loser re-reads and gets what is left.

        Parameters
        ----------
        incident_id
            The incident charged.
        wanted
            Output tokens the call would like (``MODEL_MAX_TOKENS``).
        input_tokens
            Upper bound of the call's input tokens (``ModelClient.input_token_bound``).
        """
        for _ in range(_ATTEMPTS):
            current = self.state(incident_id)
            output = min(wanted, current.limit - current.used - input_tokens)
            if output < self._min_call_tokens:
                return None
            grant = input_tokens + output
            try:
                self._table.update_item(
                    Key=self._key(incident_id),
                    UpdateExpression="SET limit_tokens = if_not_exists(limit_tokens, :limit), schema_version = :v, "
                    "#ttl = if_not_exists(#ttl, :exp) ADD used :grant",
                    ExpressionAttributeNames={"#ttl": CHECKPOINT_TTL_ATTRIBUTE},
                    ConditionExpression="attribute_not_exists(used) OR used <= :max_used",
                    ExpressionAttributeValues={
                        ":limit": current.limit,
                        ":v": SCHEMA_VERSION,
                        ":grant": grant,
                        ":exp": int(self._clock()) + _TTL_SECONDS,
                        ":max_used": current.limit - grant,
                    },
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            return Reservation(
                incident_id=incident_id, max_tokens=output, limit=current.limit, input_tokens=input_tokens
            )
        return None

    def settle(self, reservation: Reservation, tokens_used: int) -> BudgetState:
        """Replace the reservation by the real usage; say whether this settlement crossed the soft limit."""
        response = self._table.update_item(
            Key=self._key(reservation.incident_id),
            UpdateExpression="ADD used :delta",
            ExpressionAttributeValues={":delta": tokens_used - reservation.reserved},
            ReturnValues="ALL_NEW",
        )
        used = int(response["Attributes"]["used"])
        limit = int(response["Attributes"].get("limit_tokens", reservation.limit))
        crossed = used >= SOFT_LIMIT * limit and self._mark_soft_limit(reservation.incident_id)
        return BudgetState(used=used, limit=limit, crossed_soft_limit=crossed)

    def _mark_soft_limit(self, incident_id: str) -> bool:
        # Only the first crossing emits the metric and the note; later calls see the flag set.
        try:
            self._table.update_item(
                Key=self._key(incident_id),
                UpdateExpression="SET soft_limit_warned = :t",
                ConditionExpression="attribute_not_exists(soft_limit_warned)",
                ExpressionAttributeValues={":t": True},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
