"""The local engine's TransactWriteItems: all or nothing, without copying the tables it writes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from controlroom.local.dynamodb_txn import patch_transactions


@pytest.fixture
def client(aws: Any) -> Any:
    patch_transactions()
    return aws.client("dynamodb")


def _put(table: str, pk: str, sk: str, value: str, condition: str | None = None) -> dict[str, Any]:
    put: dict[str, Any] = {
        "TableName": table,
        "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "value": {"S": value}},
    }
    if condition:
        put["ConditionExpression"] = condition
    return {"Put": put}


def _get(client: Any, table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
    return item


def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws: Any, client: Any) -> None:
    # Given an existing item and a transaction that updates it, adds one, and fails on a third
    table = aws.checkpoint_table
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "value": {"S": "old"}})
    items = [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                "UpdateExpression": "SET #v = :v",
                "ExpressionAttributeNames": {"#v": "value"},
                "ExpressionAttributeValues": {":v": {"S": "new"}},
            }
        },
        _put(table, "b", "1", "added"),
        _put(table, "c", "1", "never", condition="attribute_exists(pk)"),
    ]
    # When it runs
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=items)
    # Then it is cancelled for the third item's condition, and neither earlier write is left behind
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _get(client, table, "a", "1") == {"pk": {"S": "a"}, "sk": {"S": "1"}, "value": {"S": "old"}}
    assert _get(client, table, "b", "1") is None
    assert _get(client, table, "c", "1") is None


def test_a_transaction_spanning_two_tables_applies_both(aws: Any, client: Any) -> None:
    # Given one item in each of two tables, written in one transaction
    audit = {"chain_id": {"S": "inc-1"}, "seq": {"N": "1"}, "kind": {"S": "decision"}}
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": aws.audit_table,
                    "Item": audit,
                    "ConditionExpression": "attribute_not_exists(seq)",
                }
            },
            _put(aws.checkpoint_table, "INCIDENT#inc-1", "STEP#00001#x", "step"),
        ]
    )
    # Then both are there
    assert client.get_item(
        TableName=aws.audit_table, Key={"chain_id": audit["chain_id"], "seq": audit["seq"]}
    )["Item"]
    assert _get(client, aws.checkpoint_table, "INCIDENT#inc-1", "STEP#00001#x") is not None


def test_a_transaction_never_copies_a_whole_table(
    aws: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table with items, and a Table that cannot be deep-copied (moto copied every table a
    # transaction named, per transaction: cost and memory in proportion to all ever written)
    from moto.dynamodb.models.table import Table

    table = aws.checkpoint_table
    for n in range(50):
        client.put_item(TableName=table, Item={"pk": {"S": f"p{n}"}, "sk": {"S": "1"}, "value": {"S": "x"}})

    def refuse(self: Any, memo: Any) -> Any:
        raise AssertionError("a whole table was copied")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    # When a transaction succeeds and another is cancelled
    client.transact_write_items(TransactItems=[_put(table, "p1", "1", "y")])
    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[_put(table, "p2", "1", "z"), _put(table, "p3", "2", "z", "attribute_exists(pk)")]
        )
    # Then both behaved as DynamoDB does, without a table copy
    assert _get(client, table, "p1", "1")["value"] == {"S": "y"}  # type: ignore[index]
    assert _get(client, table, "p2", "1")["value"] == {"S": "x"}  # type: ignore[index]
