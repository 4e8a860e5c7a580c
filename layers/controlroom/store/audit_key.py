"""The key an audit chain is MACed under: a port, a KMS HMAC adapter, and the message it MACs."""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from typing import Any

import rfc8785
from botocore.exceptions import ClientError

from controlroom.errors import ConfigurationError

MAC_ALGORITHM = "HMAC_SHA_256"


def head_message(chain_id: str, count: int, last_hash: str) -> bytes:
    """The bytes a chain's MAC covers after ``count`` records: RFC 8785 JSON of the head fields.

    Every record carries the MAC of the head as it stood right after that record was appended, so a
    record and a head are checked the same way (see docs/audit-ledger.md).
    """
    return rfc8785.dumps({"chain_id": chain_id, "count": count, "last_hash": last_hash})


class ChainKey(ABC):
    """Port: MAC a message, and check a MAC, under a key the table's writers do not hold."""

    @abstractmethod
    def mac(self, message: bytes) -> str:
        """The MAC of ``message``, base64-encoded."""

    @abstractmethod
    def verify(self, message: bytes, mac: str) -> bool:
        """Whether ``mac`` (base64) is the MAC of ``message`` under this key."""


class KmsChainKey(ChainKey):
    """A KMS HMAC_256 key: GenerateMac for writers, VerifyMac for verifiers; the key never leaves KMS.

    Parameters
    ----------
    kms
        A boto3 KMS client.
    key_id
        Key id, ARN or alias of a ``KeySpec=HMAC_256``, ``KeyUsage=GENERATE_VERIFY_MAC`` key.
    """

    def __init__(self, kms: Any, key_id: str) -> None:
        if not key_id:
            raise ConfigurationError(
                "environment variable AUDIT_KEY_ID: the audit chain needs a KMS HMAC key"
            )
        self._kms = kms
        self.key_id = key_id

    def mac(self, message: bytes) -> str:
        response = self._kms.generate_mac(KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message)
        return base64.b64encode(response["Mac"]).decode("ascii")

    def verify(self, message: bytes, mac: str) -> bool:
        try:
            raw = base64.b64decode(mac, validate=True)
        except ValueError:
            return False
        try:
            response = self._kms.verify_mac(
                KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message, Mac=raw
            )
        except ClientError as exc:
            # KMS answers a wrong MAC with an error, not MacValid=false.
            if exc.response["Error"]["Code"] == "KMSInvalidMacException":
                return False
            raise
        return bool(response.get("MacValid"))
