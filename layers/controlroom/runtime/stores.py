"""The stores an agent writes to, built once per table name (cold start)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

from controlroom.aws import client, resource
from controlroom.settings import Settings, settings
from controlroom.store.audit import DynamoAuditLog
from controlroom.store.audit_key import KmsChainKey
from controlroom.store.checkpoint import DynamoCheckpointStore


class Stores(NamedTuple):
    """The checkpoint and audit stores of one environment (a NamedTuple: cheaper to define than a dataclass)."""

    checkpoint: DynamoCheckpointStore
    audit: DynamoAuditLog


@lru_cache(maxsize=8)
def _stores(checkpoint_table: str, audit_table: str, audit_key_id: str, endpoint_key: str) -> Stores:
    dynamodb = resource("dynamodb")
    return Stores(
        checkpoint=DynamoCheckpointStore(dynamodb.Table(checkpoint_table)),
        audit=DynamoAuditLog(dynamodb.Table(audit_table), KmsChainKey(client("kms"), audit_key_id)),
    )


def stores(current: Settings | None = None) -> Stores:
    """Stores for the tables named in the current environment.

    Parameters
    ----------
    current
        The settings of the invocation now running, when the caller already holds them (run_agent);
        None reads them.
    """
    current = current or settings()
    return _stores(
        current.CHECKPOINT_TABLE,
        current.AUDIT_TABLE,
        current.AUDIT_KEY_ID,
        os.environ.get("AWS_ENDPOINT_URL", ""),
    )
