"""The audit chain: appends link by hash under a keyed head; verify names every kind of tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading

import boto3
import pytest
import rfc8785

from controlroom.contracts.base import canonical_json
from controlroom.errors import AuditChainBroken, SchemaVersionUnsupported
from controlroom.store import DynamoAuditLog
from controlroom.store.audit import AuditRecord
from controlroom.store.audit_key import KmsChainKey, head_message
from tests.dynamo_atomic import atomic_dynamodb  # noqa: F401 (fixture)

CHAIN = "inc-0000000000000001"


def _log(aws, key_id: str | None = None) -> DynamoAuditLog:
    key = KmsChainKey(boto3.client("kms", region_name="us-east-1"), key_id or aws.audit_key_id)
    return DynamoAuditLog(aws.dynamodb.Table(aws.audit_table), key)


def _chain(aws, n: int, chain_id: str = CHAIN) -> DynamoAuditLog:
    log = _log(aws)
    for i in range(n):
        log.append(chain_id, "decision", f"agent:{i}", {"n": i, "confidence": 0.5})
    return log


def _rehash(item: dict, **changes) -> dict:
    """What someone with PutItem but no key can do: edit a record and recompute its hash correctly."""
    item = {**item, **changes}
    item["hash"] = AuditRecord.compute_hash(
        item["chain_id"],
        int(item["seq"]),
        item["kind"],
        item["actor"],
        item["recorded_at"],
        json.loads(item["payload"]),
        item["prev_hash"],
        int(item["schema_version"]),
    )
    return item


def test_appends_chain_and_verify_without_querying_the_chain(aws):
    # Given an audit log, and a count of the DynamoDB calls it makes
    log = _log(aws)
    calls: list[str] = []
    log._table.meta.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.append(model.name)
    )
    # When three records are appended
    first = log.append(CHAIN, "decision", "agent:intake", {"n": 1})
    second = log.append(CHAIN, "decision", "agent:evidence", {"n": 2})
    log.append(CHAIN, "decision", "agent:diagnose", {"n": 3.5})
    # Then no append read the chain: one head read for the new chain, then one transaction per record
    assert calls == ["GetItem", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems"]
    # And each record links to the one before, the keyed head holds the count, and the chain verifies
    assert second.prev_hash == first.hash
    head = log.head(CHAIN)
    assert head is not None and head.count == 3
    report = log.verify(CHAIN)
    assert report.ok and report.status == "verified" and report.records == 3


@pytest.mark.usefixtures("atomic_dynamodb")
def test_concurrent_writers_each_get_their_own_seq(aws):
    # Given eight writers (separate processes would have separate logs) racing on one chain
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        log = _log(aws)
        barrier.wait()
        try:
            log.append(CHAIN, "decision", f"agent:{n}", {"n": n})
        except BaseException as exc:  # collected: a failed append must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every append landed exactly once and the chain verifies
    assert not errors
    report = _log(aws).verify(CHAIN)
    assert report.ok and report.records == 8
    assert sorted(r.payload["n"] for r in _log(aws).records(CHAIN)) == list(range(8))


def test_tampered_payload_is_named(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 3)
    table.put_item(Item={**table.get_item(Key={"chain_id": CHAIN, "seq": 2})["Item"], "payload": '{"n":99}'})
    report = log.verify(CHAIN)
    assert not report.ok and report.first_bad_seq == 2 and "altered" in report.reason


def test_deleted_record_is_a_gap(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 4)
    table.delete_item(Key={"chain_id": CHAIN, "seq": 3})
    report = log.verify(CHAIN)
    assert not report.ok and report.first_bad_seq == 3 and "gap" in report.reason


def test_truncation_is_detected(aws):
    # Given a chain of four records whose last two are deleted (what was decided last disappears)
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 4)
    for seq in (3, 4):
        table.delete_item(Key={"chain_id": CHAIN, "seq": seq})
    # Then the records still link, but the keyed head counts four
    report = log.verify(CHAIN)
    assert not report.ok and report.status == "broken"
    assert "truncated" in report.reason and report.first_bad_seq == 3


def test_rewritten_tail_is_detected(aws):
    # Given the last record rewritten with a correctly recomputed hash
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 3)
    last = table.get_item(Key={"chain_id": CHAIN, "seq": 3})["Item"]
    table.put_item(Item=_rehash(last, payload='{"confidence":1,"n":2}'))
    # Then the chain is internally consistent, but not with the keyed head
    report = log.verify(CHAIN)
    assert not report.ok and "tail was rewritten" in report.reason
    # And moving the head to the new hash needs a MAC only the KMS key can make
    head = table.get_item(Key={"chain_id": CHAIN, "seq": 0})["Item"]
    table.put_item(Item={**head, "last_hash": _rehash(last, payload='{"confidence":1,"n":2}')["hash"]})
    report = log.verify(CHAIN)
    assert not report.ok and "MAC does not verify" in report.reason


def test_forged_append_is_detected(aws):
    # Given someone with PutItem but no KMS key appending a well-formed fourth record
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 3)
    last = table.get_item(Key={"chain_id": CHAIN, "seq": 3})["Item"]
    forged = _rehash(last, seq=4, prev_hash=last["hash"], actor="agent:execute", payload='{"approved":true}')
    table.put_item(Item=forged)
    # Then it lies beyond the keyed head
    report = log.verify(CHAIN)
    assert not report.ok and report.first_bad_seq == 4 and "beyond the keyed head" in report.reason
    # And a head moved over it with a MAC under any key but the audit key does not verify
    fake_mac = hmac.new(b"guessed", head_message(CHAIN, 4, forged["hash"]), hashlib.sha256).digest()
    head = table.get_item(Key={"chain_id": CHAIN, "seq": 0})["Item"]
    table.put_item(
        Item={**head, "count": 4, "last_hash": forged["hash"], "mac": base64.b64encode(fake_mac).decode()}
    )
    report = log.verify(CHAIN)
    assert not report.ok and "MAC does not verify" in report.reason


def test_replaced_chain_is_detected(aws):
    # Given the real chain deleted and a fresh one written in its place by controlroom's own code,
    # but under another KMS key (an attacker's, or another environment's)
    table = aws.dynamodb.Table(aws.audit_table)
    _chain(aws, 3)
    for seq in (0, 1, 2, 3):
        table.delete_item(Key={"chain_id": CHAIN, "seq": seq})
    other_key = boto3.client("kms", region_name="us-east-1").create_key(
        KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
    )["KeyMetadata"]["Arn"]
    replacement = _log(aws, other_key)
    for n in range(3):
        replacement.append(CHAIN, "decision", "agent:x", {"n": n})
    # Then every hash and link is fine, but the head was not MACed under the audit key
    assert replacement.verify(CHAIN).ok
    report = _log(aws).verify(CHAIN)
    assert not report.ok and "MAC does not verify" in report.reason


def _legacy_item(chain_id: str, seq: int, prev_hash: str, payload: dict) -> dict:
    fields = {
        "chain_id": chain_id,
        "seq": seq,
        "kind": "decision",
        "actor": "agent:intake",
        "recorded_at": "2026-11-01T10:00:00Z",
        "payload": payload,
        "prev_hash": prev_hash,
    }
    digest = hashlib.sha256(canonical_json(fields).encode()).hexdigest()
    return {**fields, "payload": canonical_json(payload), "hash": digest, "schema_version": 1}


def test_previous_format_is_read_and_reported_as_unkeyed_then_keyed_on_append(aws):
    # Given a chain of two version-1 records (no head, no MAC), as the previous release wrote them
    table = aws.dynamodb.Table(aws.audit_table)
    first = _legacy_item(CHAIN, 1, "0" * 64, {"n": 1})
    table.put_item(Item=first)
    table.put_item(Item=_legacy_item(CHAIN, 2, first["hash"], {"n": 2}))
    log = _log(aws)
    # Then verify reads it but says it is not tamper-evident, instead of OK
    report = log.verify(CHAIN)
    assert report.status == "unkeyed" and not report.ok and report.records == 2
    assert "previous format" in report.reason
    # When this release appends to it
    record = log.append(CHAIN, "decision", "agent:close", {"n": 3})
    # Then it links after the old tail and the whole chain is covered by the keyed head from now on
    assert (
        record.seq == 3
        and record.prev_hash == table.get_item(Key={"chain_id": CHAIN, "seq": 2})["Item"]["hash"]
    )
    report = log.verify(CHAIN)
    assert report.ok and report.status == "verified" and report.legacy_records == 2


def test_a_keyed_chain_without_its_head_refuses_appends_and_does_not_verify(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    _chain(aws, 2)
    table.delete_item(Key={"chain_id": CHAIN, "seq": 0})
    log = _log(aws)
    assert "no head" in log.verify(CHAIN).reason
    with pytest.raises(AuditChainBroken):
        log.append(CHAIN, "decision", "agent:x", {"n": 9})


def test_a_newer_record_format_is_refused_by_name(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    log = _chain(aws, 1)
    table.put_item(Item={**table.get_item(Key={"chain_id": CHAIN, "seq": 1})["Item"], "schema_version": 3})
    with pytest.raises(SchemaVersionUnsupported, match="schema_version 3"):
        log.records(CHAIN)


def test_secrets_are_redacted_before_the_record_is_stored(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    log = _log(aws)
    log.append(
        CHAIN,
        "decision",
        "agent:evidence",
        {"log": "connect postgres://app:hunter2@db:5432 failed", "SessionToken": "FwoGZXIvYXdzEJr"},
    )
    stored = table.get_item(Key={"chain_id": CHAIN, "seq": 1})["Item"]["payload"]
    assert "hunter2" not in stored and "FwoGZXIvYXdzEJr" not in stored
    assert log.verify(CHAIN).ok


def test_empty_chain_does_not_verify(aws):
    report = _log(aws).verify("inc-ffffffffffffffff")
    assert not report.ok and report.records == 0


def test_a_record_planted_past_the_head_stops_appends_by_name(aws):
    # Given someone with PutItem but no key planting record 3 without moving the head
    table = aws.dynamodb.Table(aws.audit_table)
    _chain(aws, 2)
    last = table.get_item(Key={"chain_id": CHAIN, "seq": 2})["Item"]
    table.put_item(Item=_rehash(last, seq=3, prev_hash=last["hash"]))
    # Then the next agent does not link after the forgery (or retry forever): the chain is named broken
    with pytest.raises(AuditChainBroken, match="beyond its keyed head"):
        _log(aws).append(CHAIN, "decision", "agent:close", {"n": 9})


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"n": 1, "confidence": 0.5, "ratio": 1.0, "big": 1e21, "small": 5e-324},
        {"zeta": [1, {"b": None, "a": True}], "é": 'ünïcode \u2028 "quoted"', "\U0001f600": "emoji key"},
        {"nested": {"deep": {"deeper": ["x" * 300, -0.0, 123456789012]}}, "payload": "a key named payload"},
    ],
    ids=["empty", "numbers", "unicode-and-order", "nested"],
)
def test_a_stored_record_hashes_as_the_documented_rfc8785_body(aws, payload):
    # Given a record appended with a payload of awkward JSON (float forms, non-ASCII keys, nesting)
    log = _log(aws)
    record = log.append(CHAIN, "decision", "agent:diagnose", payload)
    item = aws.dynamodb.Table(aws.audit_table).get_item(Key={"chain_id": CHAIN, "seq": record.seq})["Item"]
    # Then its hash is SHA-256 of the RFC 8785 body with the stored payload parsed (docs/audit-ledger.md)
    body = {
        "chain_id": item["chain_id"],
        "seq": int(item["seq"]),
        "kind": item["kind"],
        "actor": item["actor"],
        "recorded_at": item["recorded_at"],
        "payload": json.loads(item["payload"]),
        "prev_hash": item["prev_hash"],
        "schema_version": int(item["schema_version"]),
    }
    assert item["hash"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest() == record.hash
    # And the stored payload is already canonical, and the returned record holds it
    assert rfc8785.dumps(json.loads(item["payload"])).decode("utf-8") == item["payload"]
    assert record.payload == json.loads(item["payload"])
    assert log.verify(CHAIN).ok
