"""The append-only audit log: one hash chain per incident, its head MACed under a KMS key.

Record format (schema_version 2) and how to verify it from another language: docs/audit-ledger.md.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import rfc8785
from botocore.exceptions import ClientError

from controlroom.contracts.base import canonical_json, isoformat, utcnow
from controlroom.errors import AuditChainBroken, AuditConflict, SchemaVersionUnsupported
from controlroom.lazy import lazy_exports
from controlroom.redaction import redact_for_storage
from controlroom.store.audit_key import ChainKey, head_message
from controlroom.store.audit_record import (
    GENESIS_HASH,
    HEAD_SEQ,
    LEGACY_SCHEMA_VERSION,
    SCHEMA_VERSION,
    AuditHead,
    AuditRecord,
    canonical_hash,
)

if TYPE_CHECKING:
    from controlroom.store.audit_verify import AuditVerification, verify_chain

_MAX_APPEND_ATTEMPTS = 8
# Items written in the same transaction as a record, built from the seq it gets and the payload as stored
# (its redacted RFC 8785 text; see DynamoAuditLog.append).
AlsoWrite = Callable[[int, str], list[dict[str, Any]]]

__all__ = [
    "GENESIS_HASH",
    "HEAD_SEQ",
    "LEGACY_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "AuditHead",
    "AuditLog",
    "AuditRecord",
    "AuditVerification",
    "DynamoAuditLog",
    "canonical_hash",
    "verify_chain",
]


# The verifier is not on the write path: it loads when a caller asks for it (PEP 562).
__getattr__, __dir__ = lazy_exports(
    "controlroom.store",
    {"AuditVerification": "audit_verify", "verify_chain": "audit_verify"},
    globals(),
    __all__,
)


class AuditLog(ABC):
    """Port: append records to a chain and read a chain back."""

    @abstractmethod
    def append(
        self,
        chain_id: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        *,
        also_write: AlsoWrite | None = None,
    ) -> AuditRecord: ...

    @abstractmethod
    def records(self, chain_id: str) -> list[AuditRecord]: ...

    @abstractmethod
    def head(self, chain_id: str) -> AuditHead | None: ...

    @abstractmethod
    def verify(self, chain_id: str) -> AuditVerification: ...


class DynamoAuditLog(AuditLog):
    """Audit records in DynamoDB (pk=chain_id, sk=seq) plus one head item per chain (sk=0).

    Each append is one TransactWriteItems: the record put only if its seq is new, and the head put
    only if it still holds the count this writer linked after. No writer ever Queries the chain: the
    head says where it ends, and the head this process wrote last is reused until a race proves it old.

    Parameters
    ----------
    table
        The audit table (boto3 resource Table).
    key
        The chain key: writers need GenerateMac, verifiers VerifyMac.
    """

    def __init__(self, table: Any, key: ChainKey) -> None:
        self._table = table
        self._key = key
        self._heads: dict[str, AuditHead] = {}

    def head(self, chain_id: str) -> AuditHead | None:
        item = self._table.get_item(Key={"chain_id": chain_id, "seq": HEAD_SEQ}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return AuditHead(
            chain_id=chain_id,
            count=int(item["count"]),
            last_hash=str(item["last_hash"]),
            mac=str(item["mac"]),
            schema_version=int(item.get("schema_version", SCHEMA_VERSION)),
        )

    def _legacy_tail(self, chain_id: str) -> AuditHead | None:
        """Where a chain without a head ends: only previous-format chains may be headless."""
        response = self._table.query(
            KeyConditionExpression="chain_id = :c AND seq > :h",
            ExpressionAttributeValues={":c": chain_id, ":h": HEAD_SEQ},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items:
            return None
        last = _from_item(items[0])
        if last.schema_version != LEGACY_SCHEMA_VERSION:
            # A keyed chain whose head is gone was tampered with; linking after it would hide that.
            raise AuditChainBroken(f"audit chain {chain_id} has keyed records but no head item")
        return AuditHead(chain_id=chain_id, count=last.seq, last_hash=last.hash, mac="", schema_version=1)

    def append(
        self,
        chain_id: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        *,
        also_write: AlsoWrite | None = None,
    ) -> AuditRecord:
        """Append one record to the chain and move its head, in one TransactWriteItems.

        Parameters
        ----------
        chain_id, kind, actor, payload
            The record (docs/audit-ledger.md); the payload is redacted before it is stored.
        also_write
            Builds further TransactItems (``{"Put": {"TableName": ..., "Item": ...}}``, Python values) from
            the seq the record gets and the payload's stored text (redacted RFC 8785 JSON), written in the
            same transaction: the record and, e.g., its timeline step land together or not at all, in one
            round trip. Called again after a lost race (new seq). They must carry no condition: a cancelled
            transaction is read as a race for the chain.

        Returns
        -------
        AuditRecord
            The record as stored.
        """
        # Secrets never reach the table: redact first, then fix the payload's JSON form once; the record
        # stores that text, its hash covers it, and also_write gets it, so nothing is redacted or
        # canonicalised twice.
        payload_text = rfc8785.dumps(json.loads(canonical_json(redact_for_storage(payload))))
        stored = payload_text.decode("utf-8")
        clean_payload = json.loads(stored)
        head = self._heads.get(chain_id) or self.head(chain_id)
        adopted_legacy = False
        for _ in range(_MAX_APPEND_ATTEMPTS):
            record = self._next_record(chain_id, kind, actor, clean_payload, payload_text, head)
            new_head = AuditHead(
                chain_id=chain_id,
                count=record.seq,
                last_hash=record.hash,
                mac=self._key.mac(head_message(chain_id, record.seq, record.hash)),
            )
            extra = also_write(record.seq, stored) if also_write is not None else []
            try:
                self._write(record, stored, new_head, head, extra)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException" or _extra_failed(exc):
                    raise
                if head is not None and head.schema_version != LEGACY_SCHEMA_VERSION and _record_only(exc):
                    # The head still says where the chain ends, yet the next seq is taken: someone wrote
                    # past the head without the key. Linking after it would bury the forgery.
                    raise AuditChainBroken(
                        f"audit chain {chain_id} has a record {record.seq} beyond its keyed head"
                    ) from exc
                # Another writer moved the head (or a previous-format chain exists): re-read and relink.
                head = self.head(chain_id)
                if head is None and not adopted_legacy:
                    head, adopted_legacy = self._legacy_tail(chain_id), True
                continue
            self._heads[chain_id] = new_head
            return record
        raise AuditConflict(
            f"could not append to audit chain {chain_id} after {_MAX_APPEND_ATTEMPTS} attempts"
        )

    @staticmethod
    def _next_record(
        chain_id: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        payload_text: bytes,
        head: AuditHead | None,
    ) -> AuditRecord:
        seq = 1 if head is None else head.count + 1
        prev_hash = GENESIS_HASH if head is None else head.last_hash
        recorded_at = isoformat(utcnow())
        # Every field is built here with its type, so the record needs no validation (a deep walk of the
        # payload); its hash is computed from the text that is stored.
        return AuditRecord.model_construct(
            chain_id=chain_id,
            seq=seq,
            kind=kind,
            actor=actor,
            recorded_at=recorded_at,
            payload=payload,
            prev_hash=prev_hash,
            hash=canonical_hash(chain_id, seq, kind, actor, recorded_at, payload_text, prev_hash),
            schema_version=SCHEMA_VERSION,
        )

    def _write(
        self,
        record: AuditRecord,
        stored_payload: str,
        new_head: AuditHead,
        old_head: AuditHead | None,
        extra: list[dict[str, Any]],
    ) -> None:
        head_put: dict[str, Any] = {"TableName": self._table.name, "Item": _head_item(new_head)}
        if old_head is None or old_head.schema_version == LEGACY_SCHEMA_VERSION:
            head_put["ConditionExpression"] = "attribute_not_exists(chain_id)"
        else:
            head_put["ConditionExpression"] = "#count = :previous"
            head_put["ExpressionAttributeNames"] = {"#count": "count"}
            head_put["ExpressionAttributeValues"] = {":previous": old_head.count}
        # The resource's client serialises Python values itself (boto3's transformation injector).
        self._table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": _record_item(record, stored_payload),
                        "ConditionExpression": "attribute_not_exists(seq)",
                    }
                },
                {"Put": head_put},
                *extra,
            ]
        )

    def records(self, chain_id: str) -> list[AuditRecord]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "chain_id = :c AND seq > :h",
            "ExpressionAttributeValues": {":c": chain_id, ":h": HEAD_SEQ},
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [_from_item(item) for item in items]

    def verify(self, chain_id: str) -> AuditVerification:
        from controlroom.store.audit_verify import verify_chain

        return verify_chain(chain_id, self.records(chain_id), self.head(chain_id), self._key)


def _reasons(exc: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


def _record_only(exc: ClientError) -> bool:
    """Whether only the record's condition failed (its seq exists) while the head's held."""
    return _reasons(exc)[:2] == ["ConditionalCheckFailed", "None"]


def _extra_failed(exc: ClientError) -> bool:
    """Whether an item written alongside the record cancelled the transaction: not a race for the chain."""
    return any(code != "None" for code in _reasons(exc)[2:])


def _head_item(head: AuditHead) -> dict[str, Any]:
    return {
        "chain_id": head.chain_id,
        "seq": HEAD_SEQ,
        "kind": "head",
        "count": head.count,
        "last_hash": head.last_hash,
        "mac": head.mac,
        "schema_version": SCHEMA_VERSION,
    }


def _record_item(record: AuditRecord, stored_payload: str) -> dict[str, Any]:
    """The record's item; ``stored_payload`` is the payload's canonical text, the one its hash covers.

    Stored as text so a verifier hashes exactly what was written (no Decimal round trip).
    """
    return {
        "chain_id": record.chain_id,
        "seq": record.seq,
        "kind": record.kind,
        "actor": record.actor,
        "recorded_at": record.recorded_at,
        "payload": stored_payload,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "schema_version": record.schema_version,
    }


def _from_item(item: dict[str, Any]) -> AuditRecord:
    # Version 1 items (before keying) are read as they are; verify says they are not keyed.
    version = int(item.get("schema_version", LEGACY_SCHEMA_VERSION))
    if version > SCHEMA_VERSION:
        raise SchemaVersionUnsupported(
            f"audit record {item.get('chain_id')}/{item.get('seq')} has schema_version {version}; "
            f"this code reads {LEGACY_SCHEMA_VERSION} and {SCHEMA_VERSION}: upgrade controlroom"
        )
    return AuditRecord(
        chain_id=item["chain_id"],
        seq=int(item["seq"]),
        kind=item["kind"],
        actor=item["actor"],
        recorded_at=item["recorded_at"],
        payload=json.loads(item["payload"]),
        prev_hash=item["prev_hash"],
        hash=item["hash"],
        schema_version=version,
    )
