"""The append-only audit log: one hash chain per incident, verifiable end to end."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from controlroom.contracts.base import canonical_json, isoformat, utcnow
from controlroom.errors import AuditConflict

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64
_MAX_APPEND_ATTEMPTS = 8


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    chain_id: str
    seq: int
    kind: str
    actor: str
    recorded_at: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    schema_version: int = SCHEMA_VERSION

    @staticmethod
    def compute_hash(
        chain_id: str,
        seq: int,
        kind: str,
        actor: str,
        recorded_at: str,
        payload: dict[str, Any],
        prev_hash: str,
    ) -> str:
        body = {
            "chain_id": chain_id,
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "recorded_at": recorded_at,
            "payload": payload,
            "prev_hash": prev_hash,
        }
        return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()

    def recomputed_hash(self) -> str:
        return self.compute_hash(
            self.chain_id, self.seq, self.kind, self.actor, self.recorded_at, self.payload, self.prev_hash
        )


class AuditVerification(BaseModel):
    chain_id: str
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(chain_id: str, records: list[AuditRecord]) -> AuditVerification:
    """Recompute the chain; name the first record whose sequence, link or hash is wrong."""
    expected_prev = GENESIS_HASH
    for expected_seq, record in enumerate(sorted(records, key=lambda r: r.seq), start=1):
        problem = ""
        if record.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {record.seq}"
        elif record.prev_hash != expected_prev:
            problem = "prev_hash does not match the hash of the record before it"
        elif record.recomputed_hash() != record.hash:
            problem = "content does not match its hash (the record was altered)"
        if problem:
            return AuditVerification(
                chain_id=chain_id,
                ok=False,
                records=len(records),
                first_bad_seq=record.seq if record.seq == expected_seq else expected_seq,
                reason=problem,
            )
        expected_prev = record.hash
    if not records:
        return AuditVerification(
            chain_id=chain_id, ok=False, records=0, reason="no audit records for this id"
        )
    return AuditVerification(chain_id=chain_id, ok=True, records=len(records))


class AuditLog(ABC):
    """Port: append records to a chain and read a chain back."""

    @abstractmethod
    def append(self, chain_id: str, kind: str, actor: str, payload: dict[str, Any]) -> AuditRecord: ...

    @abstractmethod
    def records(self, chain_id: str) -> list[AuditRecord]: ...

    def verify(self, chain_id: str) -> AuditVerification:
        return verify_chain(chain_id, self.records(chain_id))


class DynamoAuditLog(AuditLog):
    """Audit records in DynamoDB (pk=chain_id, sk=seq), written only with conditional puts."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def _last(self, chain_id: str) -> AuditRecord | None:
        response = self._table.query(
            KeyConditionExpression="chain_id = :c",
            ExpressionAttributeValues={":c": chain_id},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return _from_item(items[0]) if items else None

    def append(self, chain_id: str, kind: str, actor: str, payload: dict[str, Any]) -> AuditRecord:
        # Two writers may read the same tail; the conditional put lets exactly one of them win,
        # the other re-reads the tail and links after it.
        clean_payload = json.loads(canonical_json(payload))
        for _ in range(_MAX_APPEND_ATTEMPTS):
            last = self._last(chain_id)
            seq = 1 if last is None else last.seq + 1
            prev_hash = GENESIS_HASH if last is None else last.hash
            recorded_at = isoformat(utcnow())
            record = AuditRecord(
                chain_id=chain_id,
                seq=seq,
                kind=kind,
                actor=actor,
                recorded_at=recorded_at,
                payload=clean_payload,
                prev_hash=prev_hash,
                hash=AuditRecord.compute_hash(
                    chain_id, seq, kind, actor, recorded_at, clean_payload, prev_hash
                ),
            )
            try:
                self._table.put_item(Item=_to_item(record), ConditionExpression="attribute_not_exists(seq)")
                return record
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise AuditConflict(
            f"could not append to audit chain {chain_id} after {_MAX_APPEND_ATTEMPTS} attempts"
        )

    def records(self, chain_id: str) -> list[AuditRecord]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "chain_id = :c",
            "ExpressionAttributeValues": {":c": chain_id},
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [_from_item(item) for item in items]


def _to_item(record: AuditRecord) -> dict[str, Any]:
    item = record.model_dump()
    item["payload"] = canonical_json(record.payload)
    return item


def _from_item(item: dict[str, Any]) -> AuditRecord:
    # schema_version 1 is the only version so far; a v2 reader would upgrade v1 items here.
    return AuditRecord(
        chain_id=item["chain_id"],
        seq=int(item["seq"]),
        kind=item["kind"],
        actor=item["actor"],
        recorded_at=item["recorded_at"],
        payload=json.loads(item["payload"]),
        prev_hash=item["prev_hash"],
        hash=item["hash"],
        schema_version=int(item.get("schema_version", 1)),
    )
