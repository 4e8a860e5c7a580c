"""Count DynamoDB round trips and the on-demand request units they would consume in AWS.

moto reports no real consumed capacity, so the units are computed from the items, by DynamoDB's rules:
a write is 1 WRU per started KB of the item (the item as it is after an update), 2x in a transaction;
a read is 1 RRU per started 4 KB when strongly consistent, 0.5 when eventually consistent, 2x in a
transaction; a Query is charged on the sum of the items it returns, rounded up once. Item size is the
sum of attribute name lengths and value sizes (strings and binary by length, numbers about one byte
per two digits plus one, containers 3 bytes plus their contents plus 1 per element).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        digits = len(str(Decimal(inner)).lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(member) for member in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(member) for name, member in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of a DynamoDB item in wire format (``{"name": {"S": "..."}}``), as DynamoDB sizes it."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


@dataclass
class Usage:
    """Round trips and request units of one DynamoDB operation."""

    calls: int = 0
    read_units: float = 0.0
    write_units: float = 0.0


@dataclass
class DynamoMeter:
    """Hooks a botocore session and meters every DynamoDB call made through it.

    ``reader`` is a client outside the session (not metered) used to size an item after an update;
    without one, an update is sized by its key (a lower bound).
    """

    reader: Any = None
    # False: the hooks return at once (a timed run pays only for botocore calling them).
    active: bool = True
    by_operation: dict[str, Usage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: threading.local = field(default_factory=threading.local)

    def install(self, session: Any) -> DynamoMeter:
        """Register on ``session`` (a boto3 Session's ``events``) for every DynamoDB call."""
        # The wire format on both sides: resource calls are (de)serialized by handlers of their own.
        session.register("before-call.dynamodb", self._remember)
        session.register("after-call.dynamodb", self._meter)
        return self

    def reset(self) -> None:
        with self._lock:
            self.by_operation.clear()

    def snapshot(self) -> dict[str, Usage]:
        with self._lock:
            return {op: Usage(u.calls, u.read_units, u.write_units) for op, u in self.by_operation.items()}

    def _remember(self, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        body = params.get("body") or b"{}"
        self._pending.request = json.loads(body.decode() if isinstance(body, bytes) else body)

    def _meter(self, model: Any, http_response: Any, **_: Any) -> None:
        if not self.active:
            return
        request = getattr(self._pending, "request", {})
        try:
            response = json.loads(http_response.content or b"{}")
            if http_response.status_code >= 400:
                response = {"Error": response}
            reads, writes = self._units(model.name, request, response)
        except Exception:  # a meter must never break the code it measures
            reads, writes = 0.0, 0.0
        with self._lock:
            usage = self.by_operation.setdefault(model.name, Usage())
            usage.calls += 1
            usage.read_units += reads
            usage.write_units += writes

    def _units(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> tuple[float, float]:
        if "Error" in parsed:
            return 0.0, 1.0 if operation in WRITES else 0.0  # a failed condition still costs a write
        strong = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            return _read_units(item_size(parsed.get("Item", {})), strong), 0.0
        if operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            return _read_units(size, strong), 0.0
        if operation == "PutItem":
            return 0.0, _write_units(item_size(params["Item"]))
        if operation == "UpdateItem":
            return 0.0, _write_units(self._size_after(params["TableName"], params["Key"]))
        if operation == "DeleteItem":
            return 0.0, _write_units(item_size(params["Key"]))
        if operation == "TransactWriteItems":
            total = 0.0
            for entry in params["TransactItems"]:
                (kind, request), *_ = entry.items()
                if kind == "Put":
                    size = item_size(request["Item"])
                elif kind == "Update":
                    size = self._size_after(request["TableName"], request["Key"])
                else:
                    size = item_size(request["Key"])
                total += 2 * _write_units(size)
            return 0.0, total
        if operation == "BatchWriteItem":
            sizes = [
                item_size(req.get("PutRequest", {}).get("Item") or req["DeleteRequest"]["Key"])
                for requests in params["RequestItems"].values()
                for req in requests
            ]
            return 0.0, sum(_write_units(size) for size in sizes)
        return 0.0, 0.0

    def _size_after(self, table: str, key: dict[str, Any]) -> int:
        if self.reader is None:
            return item_size(key)
        item = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", key)
        return item_size(item)


def _read_units(size: int, strong: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if strong else units / 2


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))
