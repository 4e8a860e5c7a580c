"""An audit record and a chain head as stored, and the record's hash (docs/audit-ledger.md)."""

# No ``from __future__ import annotations``: pydantic would compile and evaluate every field's string.
import hashlib
from typing import Any

import rfc8785
from pydantic import BaseModel, ConfigDict

from controlroom.contracts.base import canonical_json

SCHEMA_VERSION = 2
# Records written before the chain was keyed: hashed with the older canonical JSON, no head item.
LEGACY_SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64
# The head lives in the chain's partition at a sort key no record uses (records start at 1).
HEAD_SEQ = 0


class AuditHead(BaseModel):
    """Where a chain ends: its record count, the last record's hash, and the MAC over both."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    chain_id: str
    count: int
    last_hash: str
    mac: str
    schema_version: int = SCHEMA_VERSION


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

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
        schema_version: int = SCHEMA_VERSION,
    ) -> str:
        """SHA-256 (hex) of the record's body; version 2 hashes its RFC 8785 canonical form."""
        body: dict[str, Any] = {
            "chain_id": chain_id,
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "recorded_at": recorded_at,
            "payload": payload,
            "prev_hash": prev_hash,
        }
        if schema_version == LEGACY_SCHEMA_VERSION:
            return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()
        body["schema_version"] = schema_version
        return hashlib.sha256(rfc8785.dumps(body)).hexdigest()

    def recomputed_hash(self) -> str:
        return self.compute_hash(
            self.chain_id,
            self.seq,
            self.kind,
            self.actor,
            self.recorded_at,
            self.payload,
            self.prev_hash,
            self.schema_version,
        )


def canonical_hash(
    chain_id: str, seq: int, kind: str, actor: str, recorded_at: str, payload_text: bytes, prev_hash: str
) -> str:
    """``AuditRecord.compute_hash`` (version 2) from the payload's RFC 8785 text, without re-canonicalising it.

    RFC 8785 sorts the body's keys (all ASCII) as actor, chain_id, kind, payload, prev_hash, recorded_at,
    schema_version, seq, so the body is the canonical text of the fields before ``payload``, the payload's
    own canonical text, then the fields after it. The writer already holds that text (it is what it
    stores); canonicalising a large payload a second time was most of an append's own CPU.
    """
    before = rfc8785.dumps({"actor": actor, "chain_id": chain_id, "kind": kind})
    after = rfc8785.dumps(
        {"prev_hash": prev_hash, "recorded_at": recorded_at, "schema_version": SCHEMA_VERSION, "seq": seq}
    )
    body = before[:-1] + b',"payload":' + payload_text + b"," + after[1:]
    return hashlib.sha256(body).hexdigest()
