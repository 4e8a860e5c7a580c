"""The stores an agent writes to, built once per table name (cold start)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from controlroom.aws import client, resource
from controlroom.settings import settings
from controlroom.store import DynamoAuditLog, DynamoCheckpointStore
from controlroom.store.audit_key import KmsChainKey


@dataclass(frozen=True)
class Stores:
    checkpoint: DynamoCheckpointStore
    audit: DynamoAuditLog


@lru_cache(maxsize=8)
def _stores(checkpoint_table: str, audit_table: str, audit_key_id: str, endpoint_key: str) -> Stores:
    dynamodb = resource("dynamodb")
    return Stores(
        checkpoint=DynamoCheckpointStore(dynamodb.Table(checkpoint_table)),
        audit=DynamoAuditLog(dynamodb.Table(audit_table), KmsChainKey(client("kms"), audit_key_id)),
    )


def stores() -> Stores:
    """Stores for the tables named in the current environment."""
    import os

    current = settings()
    return _stores(
        current.CHECKPOINT_TABLE,
        current.AUDIT_TABLE,
        current.AUDIT_KEY_ID,
        os.environ.get("AWS_ENDPOINT_URL", ""),
    )
