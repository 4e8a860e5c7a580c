"""Fixtures shared by every test: fake AWS credentials, moto in-process, the two tables, a private state dir."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Never let a test reach AWS: fake credentials and a fixed region before boto3 is imported anywhere.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Controlroom",
        "POWERTOOLS_DEV": "false",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session", autouse=True)
def private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local engine's state (local.json: its address and inbox token; logs) in this process's temp dir.

    It defaults to <checkout>/.controlroom, which every pytest-xdist worker shares: a CLI call in one worker's
    test would find the other worker's engine there, and any test run would overwrite the state file of a
    developer's running `controlroom up`. A test that sets CONTROLROOM_HOME (a checkout of its own, shared
    with the `controlroom` child processes it runs) keeps that checkout's .controlroom.
    """
    import controlroom.local.paths as paths

    path = tmp_path_factory.mktemp("controlroom-state")
    original = paths.state_dir

    def _private() -> Path:
        if os.environ.get("CONTROLROOM_HOME"):
            # The test made a checkout of its own for this (as a child `controlroom` finds it): keep to it.
            return original()
        path.mkdir(exist_ok=True)
        return path

    with pytest.MonkeyPatch.context() as patch:
        # Modules imported later copy the patched name; those already imported are patched where they hold it.
        patch.setattr(paths, "state_dir", _private)
        for name, module in list(sys.modules.items()):
            if name.startswith("controlroom.") and getattr(module, "state_dir", None) is original:
                patch.setattr(module, "state_dir", _private)
        yield path


CHECKPOINT_TABLE = "controlroom-test-checkpoint"
AUDIT_TABLE = "controlroom-test-audit"


@dataclass
class MockAws:
    """Handles a test gets to the in-process moto account."""

    dynamodb: Any
    checkpoint_table: str
    audit_table: str
    audit_key_id: str = ""

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name="us-east-1")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockAws]:
    """moto for every AWS API, the checkpoint and audit tables created, the agent env pointed at them."""
    import boto3
    from moto import mock_aws

    from controlroom.aws import reset_clients
    from controlroom.runtime.stores import _stores
    from controlroom.store.tables import create_tables

    monkeypatch.setenv("CHECKPOINT_TABLE", CHECKPOINT_TABLE)
    monkeypatch.setenv("AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("ENVIRONMENT", "test")
    reset_clients()
    _stores.cache_clear()
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        create_tables(dynamodb, CHECKPOINT_TABLE, AUDIT_TABLE)
        # The audit chain is keyed: an HMAC key in KMS, as the CDK app creates one.
        audit_key_id = boto3.client("kms", region_name="us-east-1").create_key(
            KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
        )["KeyMetadata"]["Arn"]
        monkeypatch.setenv("AUDIT_KEY_ID", audit_key_id)
        yield MockAws(
            dynamodb=dynamodb,
            checkpoint_table=CHECKPOINT_TABLE,
            audit_table=AUDIT_TABLE,
            audit_key_id=audit_key_id,
        )
    reset_clients()
    _stores.cache_clear()


class FakeLambdaContext:
    """The attributes Powertools and the runtime read from a Lambda context."""

    function_name = "controlroom-test-agent"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:controlroom-test-agent"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/controlroom-test-agent"
    log_stream_name = "local"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
