"""`controlroom audit verify INCIDENT --table NAME` against a deployed-style table (moto), not the local engine."""

from __future__ import annotations

import boto3

from controlroom.local.cli import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_UNKEYED, main
from controlroom.runtime.stores import stores

CHAIN = "inc-00000000000000c1"


def _deployed_alias(aws) -> None:
    # The CDK app names the audit key alias/<audit table name>; the CLI finds it by the table's name.
    boto3.client("kms", region_name="us-east-1").create_alias(
        AliasName=f"alias/{aws.audit_table}", TargetKeyId=aws.audit_key_id
    )


def test_verify_against_a_deployed_table_finds_its_key_by_the_table_name(aws, capsys):
    # Given a chain written by the agents into a table shaped like the CDK one
    _deployed_alias(aws)
    for n in range(3):
        stores().audit.append(CHAIN, "decision", "agent:x", {"n": n})
    # When an operator verifies it with nothing but the table's name and region
    code = main(["audit", "verify", CHAIN, "--table", aws.audit_table, "--region", "us-east-1"])
    # Then it verifies, keyed
    assert code == EXIT_OK
    assert "3 records, hash chain and keyed head verified OK" in capsys.readouterr().out


def test_verify_against_a_deployed_table_fails_on_a_forged_head(aws, capsys):
    _deployed_alias(aws)
    for n in range(2):
        stores().audit.append(CHAIN, "decision", "agent:x", {"n": n})
    table = aws.dynamodb.Table(aws.audit_table)
    head = table.get_item(Key={"chain_id": CHAIN, "seq": 0})["Item"]
    table.put_item(Item={**head, "count": 1})
    code = main(["audit", "verify", CHAIN, "--table", aws.audit_table, "--key", aws.audit_key_id])
    assert code == EXIT_FAILED
    assert "BROKEN" in capsys.readouterr().out


def test_previous_format_chain_is_reported_unkeyed_not_ok(aws, capsys):
    # Given a chain written before keying (version 1: no head item)
    from tests.unit.test_audit_chain import _legacy_item

    table = aws.dynamodb.Table(aws.audit_table)
    table.put_item(Item=_legacy_item(CHAIN, 1, "0" * 64, {"n": 1}))
    code = main(["audit", "verify", CHAIN, "--table", aws.audit_table, "--key", aws.audit_key_id])
    out = capsys.readouterr().out
    # Then the CLI says so, with its own exit code, and never "OK"
    assert code == EXIT_UNKEYED
    assert "UNKEYED" in out and "OK" not in out


def test_verify_of_an_id_nothing_was_audited_under_is_not_found_not_broken(aws, capsys):
    # Given a deployed-style table with another incident's chain in it
    _deployed_alias(aws)
    stores().audit.append(CHAIN, "decision", "agent:x", {"n": 1})
    # When an operator verifies an id with no record (a typo, another environment's incident)
    code = main(
        ["audit", "verify", "inc-00000000000000ff", "--table", aws.audit_table, "--region", "us-east-1"]
    )
    captured = capsys.readouterr()
    # Then it is "not found" (exit 4) on stderr, never BROKEN: nothing was tampered with
    assert code == EXIT_NOT_FOUND
    assert captured.out == "" and "BROKEN" not in captured.err
    assert captured.err == (
        "controlroom: error: audit chain inc-00000000000000ff: not found: no audit record was written under this id\n"
    )
