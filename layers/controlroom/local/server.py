"""Start and stop moto in server mode on 127.0.0.1, with the local engine's patches applied."""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

from controlroom.local import patches, transport
from controlroom.local.dynamodb_txn import patch_transactions
from controlroom.local.preflight import bind_error


def local_client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    """A boto3 client for the local engine at ``endpoint``, with the fake credentials moto accepts."""
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        aws_session_token="local",
    )


_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_dynamodb_lock = threading.RLock()
_dynamodb_atomic = False


def make_dynamodb_writes_atomic() -> None:
    """One lock around moto's DynamoDB writes, as DynamoDB applies each write to an item atomically.

    moto evaluates a ConditionExpression and then applies the write with no lock, so two concurrent
    invocations could both pass the same condition (two incidents for one alarm, two decisions for one
    approval). Only moto's backend is serialised; our handlers still run concurrently.
    """
    global _dynamodb_atomic
    if _dynamodb_atomic:
        return
    from moto.dynamodb.models import DynamoDBBackend

    # Under the lock below: a transaction's undo log must not interleave with another write.
    patch_transactions()

    for name in _DYNAMODB_WRITES:
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    _dynamodb_atomic = True


class PortInUse(OSError):
    """The port asked for is already taken by another process."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_port(port: int) -> None:
    refused = bind_error(port)
    if refused is not None:
        raise PortInUse(
            f"port {port} on 127.0.0.1 is in use (another `controlroom up`?); pick another with --port"
        ) from refused


@dataclass
class MotoServer:
    """moto's threaded server in this process, so our in-process patches apply to it."""

    port: int
    _server: object | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        _check_port(self.port)
        # One line per request would bury the demo's output.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The interpreter logs every caught task failure at ERROR; the execution history keeps them.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        # moto's Step Functions interpreter calls other services on localhost:MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        patches.apply(self.url)
        make_dynamodb_writes_atomic()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        # Our in-process handlers (and the interpreter's task clients) reach it without TCP.
        for origin in self._origins():
            transport.register(origin, server._server.app)  # type: ignore[union-attr]
        return self

    def _origins(self) -> tuple[str, str]:
        return self.url, f"http://localhost:{self.port}"

    def reset(self) -> None:
        """Drop every resource in every moto backend (a clean account)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        patches.apply(self.url)

    def stop(self) -> None:
        for origin in self._origins():
            transport.unregister(origin)
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None


def start_server(port: int = 0) -> MotoServer:
    """Start a server on ``port`` (0 picks a free one)."""
    return MotoServer(port=port or free_port()).start()
