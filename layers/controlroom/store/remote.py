"""Verify an audit chain in a deployed environment's table, with the caller's own AWS credentials."""

from __future__ import annotations

import boto3

from controlroom.store.audit import DynamoAuditLog
from controlroom.store.audit_key import KmsChainKey
from controlroom.store.audit_verify import AuditVerification


def verify_deployed(
    chain_id: str, *, table: str, region: str | None = None, key: str | None = None
) -> AuditVerification:
    """Read the chain from ``table`` and check it under the environment's audit key.

    Parameters
    ----------
    chain_id
        The incident id.
    table
        The audit table's name (the stack output ``AuditTableName``).
    region
        Its region; None uses the SDK's default chain (AWS_REGION, profile).
    key
        The audit HMAC key; None means ``alias/<table>``, the alias the CDK app gives it. The key is
        pinned by the verifier, never read from the table: a replaced chain names whatever key it likes.
        Needs dynamodb:GetItem and dynamodb:Query on the table and kms:VerifyMac on the key (the stack's
        ``AuditVerifierPolicyArn`` output grants VerifyMac).
    """
    session = boto3.Session(region_name=region) if region else boto3.Session()
    chain_key = KmsChainKey(session.client("kms"), key or f"alias/{table}")
    return DynamoAuditLog(session.resource("dynamodb").Table(table), chain_key).verify(chain_id)
