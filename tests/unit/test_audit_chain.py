"""The audit chain: appends link by hash, verification names the first bad record."""

from __future__ import annotations

from controlroom.store import DynamoAuditLog


def test_appends_chain_and_verify(aws):
    # Given an audit log with three records on one chain
    log = DynamoAuditLog(aws.dynamodb.Table(aws.audit_table))
    first = log.append("inc-0000000000000001", "decision", "agent:intake", {"n": 1})
    second = log.append("inc-0000000000000001", "decision", "agent:evidence", {"n": 2})
    log.append("inc-0000000000000001", "decision", "agent:diagnose", {"n": 3.5})
    # Then each record links to the one before and the chain verifies
    assert second.prev_hash == first.hash
    report = log.verify("inc-0000000000000001")
    assert report.ok and report.records == 3


def test_tampered_payload_is_named(aws):
    # Given a chain of three records
    table = aws.dynamodb.Table(aws.audit_table)
    log = DynamoAuditLog(table)
    for n in range(3):
        log.append("inc-0000000000000002", "decision", "agent:x", {"n": n})
    # When someone edits the second record's payload in place
    table.update_item(
        Key={"chain_id": "inc-0000000000000002", "seq": 2},
        UpdateExpression="SET payload = :p",
        ExpressionAttributeValues={":p": '{"n":99}'},
    )
    # Then verification fails at exactly that record
    report = log.verify("inc-0000000000000002")
    assert not report.ok
    assert report.first_bad_seq == 2
    assert "altered" in report.reason


def test_deleted_record_is_a_gap(aws):
    table = aws.dynamodb.Table(aws.audit_table)
    log = DynamoAuditLog(table)
    for n in range(4):
        log.append("inc-0000000000000003", "decision", "agent:x", {"n": n})
    table.delete_item(Key={"chain_id": "inc-0000000000000003", "seq": 3})
    report = log.verify("inc-0000000000000003")
    assert not report.ok and report.first_bad_seq == 3 and "gap" in report.reason


def test_empty_chain_does_not_verify(aws):
    report = DynamoAuditLog(aws.dynamodb.Table(aws.audit_table)).verify("inc-ffffffffffffffff")
    assert not report.ok and report.records == 0
