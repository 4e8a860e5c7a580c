"""Key schemas of the two tables (shared by the CDK app and tests), and how their conditional writes fail."""

from __future__ import annotations

from typing import Any

CHECKPOINT_KEYS = {"partition": "pk", "sort": "sk"}
CHECKPOINT_GSI = {"name": "gsi1", "partition": "gsi1pk", "sort": "gsi1sk"}
CHECKPOINT_TTL_ATTRIBUTE = "expires_at_epoch"
AUDIT_KEYS = {"partition": "chain_id", "sort": "seq"}
# A single write's ConditionExpression failed, or a transaction was cancelled by one of its conditions.
_CONDITIONAL_FAILURES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


def is_conditional_failure(exc: Exception) -> bool:
    """True when a DynamoDB ClientError is a failed condition (or cancelled transaction), not a fault."""
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") in _CONDITIONAL_FAILURES


def create_tables(dynamodb: Any, checkpoint_table: str, audit_table: str) -> None:
    """Create both tables on a DynamoDB resource (moto in tests; the CDK app does this in AWS)."""
    dynamodb.create_table(
        TableName=checkpoint_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
            }
        ],
    )
    dynamodb.create_table(
        TableName=audit_table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "chain_id", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "chain_id", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
    )
