"""The HMAC key that signs approval links, read from Secrets Manager once per cold start."""

from __future__ import annotations

import json
import threading

from controlroom.aws import client
from controlroom.errors import ConfigurationError

_MIN_KEY_BYTES = 16
_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def _key_from_secret(secret_string: str) -> bytes:
    # A CDK-generated secret may be plain text or a JSON object with a "key" field.
    text = secret_string
    try:
        parsed = json.loads(secret_string)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("key"), str):
        text = parsed["key"]
    key = text.encode("utf-8")
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigurationError(f"the approval signing secret must hold at least {_MIN_KEY_BYTES} bytes")
    return key


def signing_key(secret_arn: str) -> bytes:
    """The signing key held in ``secret_arn``, fetched on first use and cached for the process.

    Parameters
    ----------
    secret_arn : str
        ARN (or name) of the Secrets Manager secret (setting APPROVAL_SIGNING_SECRET_ARN).

    Returns
    -------
    bytes
        The key bytes.

    Raises
    ------
    ConfigurationError
        When no ARN is configured or the secret is too short to be a key.
    """
    if not secret_arn:
        raise ConfigurationError("APPROVAL_SIGNING_SECRET_ARN is not set: approval links cannot be signed")
    with _lock:
        cached = _keys.get(secret_arn)
        if cached is not None:
            return cached
        response = client("secretsmanager").get_secret_value(SecretId=secret_arn)
        key = _key_from_secret(str(response.get("SecretString") or ""))
        _keys[secret_arn] = key
        return key


def forget_keys() -> None:
    """Drop cached keys (tests, or a process that learns the secret rotated)."""
    with _lock:
        _keys.clear()
