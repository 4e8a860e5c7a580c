"""DynamoDB's per-item atomicity for moto in tests that race threads.

DynamoDB evaluates a condition and applies the write as one step; moto's in-process backend does not
serialise concurrent requests, so two threads can both pass a condition that only one would pass in
AWS. Racing tests take this fixture so they test our code against DynamoDB's guarantees, not moto's.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import pytest

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Serialise moto's DynamoDB writes (condition check + write), as DynamoDB does per item."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)
    yield
