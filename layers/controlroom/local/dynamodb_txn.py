"""moto's TransactWriteItems rolls back the items it touched instead of deep-copying every table it names.

moto 5.2.5 backs a transaction up with ``copy.deepcopy`` of each whole table before applying it, so every
audit append (a record and its chain head, one transaction) copies the entire audit table, and every
Intake copies the checkpoint table. On a long-running engine that is CPU and memory in proportion to
everything ever written, per write: a 1000-event storm copies a table of thousands of items thousands of
times, and a copy taken while another thread writes the table fails ("dictionary changed size during
iteration"). DynamoDB itself only promises all-or-nothing for the items in the transaction, which is
what an undo log of those items gives.
"""

from __future__ import annotations

import copy
from typing import Any

_patched = False


class _NoTableCopies:
    """Stands in for ``copy`` inside ``moto.dynamodb.models``: a Table is "copied" as itself.

    The only Table that module deep-copies is a transaction's backup; with this in place moto's own
    rollback (assigning the backup back) changes nothing, and ``transact_write_items`` below restores
    the touched items instead. Everything else is copied as before.
    """

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key_of(table: Any, op: dict[str, Any]) -> tuple[Any, Any] | None:
    """The (hash, range) DynamoType key an operation targets, or None when moto will reject it anyway."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    attrs = op.get("Item") if "Item" in op else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    hash_value = DynamoType(attrs[table.hash_key_attr])
    if table.range_key_attr is None:
        return hash_value, None
    if table.range_key_attr not in attrs:
        return None
    return hash_value, DynamoType(attrs[table.range_key_attr])


def snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """A copy of every item the transaction may write, as it is now (None where there is no item).

    Parameters
    ----------
    backend
        moto's DynamoDBBackend of the account and region.
    transact_items
        The request's TransactItems (DynamoDB JSON), as moto's backend receives them.
    """
    saved = []
    for transact_item in transact_items:
        op: Any = next(iter(transact_item.values()), None)
        if not isinstance(op, dict):
            continue
        table: Any = backend.tables.get(op.get("TableName"))
        key = _key_of(table, op) if table is not None else None
        if key is None:
            continue
        hash_value, range_value = key
        if range_value is None:
            current = table.items.get(hash_value)
        else:
            current = table.items[hash_value].get(range_value) if hash_value in table.items else None
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    """Put every saved item back as it was (and remove the ones that did not exist), last first."""
    for table, hash_value, range_value, item in reversed(saved):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
            continue
        bucket = table.items[hash_value]
        if item is None:
            bucket.pop(range_value, None)
            if not bucket:
                table.items.pop(hash_value, None)
        else:
            bucket[range_value] = item


def patch_transactions() -> None:
    """Make moto's ``transact_write_items`` roll back by item (idempotent; call before any lock wrapping)."""
    global _patched
    if _patched:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    models.copy = _NoTableCopies  # type: ignore[assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = snapshot(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            restore(saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _patched = True
