"""boto3 clients and resources, created once per process and region (cold start)."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
# boto3's default session is not thread-safe while it creates clients; the local engine runs handlers
# in concurrent threads of one process (in Lambda there is one thread, and this costs nothing).
_CREATE_LOCK = threading.Lock()


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint: str | None) -> Any:
    with _CREATE_LOCK:
        return boto3.client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG)


@lru_cache(maxsize=8)
def _resource(service: str, region: str, endpoint: str | None) -> Any:
    with _CREATE_LOCK:
        return boto3.resource(service, region_name=region, endpoint_url=endpoint, config=_CONFIG)


def client(service: str) -> Any:
    """A cached client for ``service``; AWS_ENDPOINT_URL (set by the local engine) is honoured."""
    return _client(service, _region(), os.environ.get("AWS_ENDPOINT_URL"))


def resource(service: str) -> Any:
    """A cached resource for ``service`` (used for DynamoDB tables)."""
    return _resource(service, _region(), os.environ.get("AWS_ENDPOINT_URL"))


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    _client.cache_clear()
    _resource.cache_clear()
