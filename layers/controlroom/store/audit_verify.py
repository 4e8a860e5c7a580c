"""Verify an audit chain: recompute every hash and link, then check the keyed head against the records.

Only the verifier (``controlroom audit verify``, the local client, tests) loads this module; the write
path (``DynamoAuditLog.append``) never does.
"""

# No ``from __future__ import annotations``: pydantic would compile and evaluate every field's string.
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from controlroom.store.audit_key import ChainKey, head_message
from controlroom.store.audit_record import GENESIS_HASH, LEGACY_SCHEMA_VERSION

if TYPE_CHECKING:
    from controlroom.store.audit_record import AuditHead, AuditRecord


class AuditVerification(BaseModel):
    """The verdict on one chain.

    ``status`` is ``verified`` (hashes, links and the keyed head agree), ``unkeyed`` (every record is in
    the previous format, written before chains were keyed: the hashes link, but anyone who could write
    the table could have rewritten them consistently), ``broken``, or ``not_found`` (no record and no
    head: nothing was ever audited under this id, which says nothing about tampering). ``ok`` is True
    only for verified.
    """

    model_config = ConfigDict(defer_build=True)

    chain_id: str
    ok: bool
    records: int
    status: Literal["verified", "unkeyed", "broken", "not_found"] = "broken"
    first_bad_seq: int | None = None
    reason: str = ""
    legacy_records: int = 0


def _broken(chain_id: str, records: int, reason: str, seq: int | None = None) -> AuditVerification:
    return AuditVerification(
        chain_id=chain_id, ok=False, records=records, status="broken", first_bad_seq=seq, reason=reason
    )


def _walk(chain_id: str, ordered: "list[AuditRecord]") -> AuditVerification | None:
    """The first record whose sequence, link or hash is wrong, or None when the hashes chain."""
    expected_prev = GENESIS_HASH
    keyed_seen = False
    for expected_seq, record in enumerate(ordered, start=1):
        problem = ""
        if record.seq != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {record.seq} (records were deleted)"
        elif record.chain_id != chain_id:
            problem = f"the record belongs to chain {record.chain_id}"
        elif record.prev_hash != expected_prev:
            problem = "prev_hash does not match the hash of the record before it"
        elif record.recomputed_hash() != record.hash:
            problem = "content does not match its hash (the record was altered)"
        elif keyed_seen and record.schema_version == LEGACY_SCHEMA_VERSION:
            problem = "a previous-format (unkeyed) record after keyed ones (forged)"
        if problem:
            return _broken(chain_id, len(ordered), problem, expected_seq)
        keyed_seen = keyed_seen or record.schema_version != LEGACY_SCHEMA_VERSION
        expected_prev = record.hash
    return None


def verify_chain(
    chain_id: str, records: "list[AuditRecord]", head: "AuditHead | None", key: ChainKey
) -> AuditVerification:
    """Recompute the chain and check it against its keyed head.

    Detects altered records (hash), deleted ones (sequence gap, or fewer records than the head
    counts), a rewritten tail or a forged append (the head's MAC, which only holders of the KMS key
    can produce, does not cover the records found) and a replaced chain (MAC under another key).

    Parameters
    ----------
    chain_id
        The incident id (or ``event:<digest>`` for rejected events).
    records
        Every record of the chain, in any order (the head item excluded).
    head
        The chain's head item, or None when there is none.
    key
        The chain key; only VerifyMac is called.
    """
    ordered = sorted(records, key=lambda r: r.seq)
    if not ordered and head is None:
        return AuditVerification(
            chain_id=chain_id, ok=False, records=0, status="not_found", reason="no audit records for this id"
        )
    problem = _walk(chain_id, ordered)
    if problem is not None:
        return problem
    legacy = sum(1 for record in ordered if record.schema_version == LEGACY_SCHEMA_VERSION)
    if head is None:
        if legacy == len(ordered):
            return AuditVerification(
                chain_id=chain_id,
                ok=False,
                records=len(ordered),
                status="unkeyed",
                legacy_records=legacy,
                reason="every record is in the previous format (schema_version 1, no keyed head): the hashes "
                "link, but a rewrite by anyone with write access to the table would not show",
            )
        return _broken(chain_id, len(ordered), "the chain has keyed records but no head item (deleted)")
    if not key.verify(head_message(chain_id, head.count, head.last_hash), head.mac):
        return _broken(
            chain_id,
            len(ordered),
            "the head's MAC does not verify under the audit key: the head was forged or the chain replaced",
        )
    if head.count > len(ordered):
        return _broken(
            chain_id,
            len(ordered),
            f"truncated: the keyed head counts {head.count} records, {len(ordered)} found",
            len(ordered) + 1,
        )
    if head.count < len(ordered):
        return _broken(
            chain_id,
            len(ordered),
            f"records beyond the keyed head ({len(ordered) - head.count} appended without the audit key)",
            head.count + 1,
        )
    if ordered[-1].hash != head.last_hash:
        return _broken(
            chain_id,
            len(ordered),
            "the last record's hash is not the one the keyed head holds: the tail was rewritten",
        )
    return AuditVerification(
        chain_id=chain_id, ok=True, records=len(ordered), status="verified", legacy_records=legacy
    )
