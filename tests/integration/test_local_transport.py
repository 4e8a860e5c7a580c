"""Requests from the engine's own process reach it without a socket, and behave as over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from controlroom.local import transport
from controlroom.local.server import MotoServer, local_client, start_server


@pytest.fixture
def server() -> Iterator[MotoServer]:
    running = start_server(0)
    try:
        yield running
    finally:
        running.stop()


def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    opened: list[Any] = []
    original = socket.create_connection

    def spy(address: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(address)
        return original(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    monkeypatch.setattr("urllib3.util.connection.create_connection", spy)
    return opened


def test_a_client_here_is_served_in_process_with_the_same_answers(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client of this process for the engine, and any TCP connection recorded
    boto3.setup_default_session()
    ssm = local_client("ssm", server.url)
    opened = _no_sockets(monkeypatch)
    # When it writes and reads (a JSON protocol), and an error comes back
    ssm.put_parameter(Name="/controlroom/t", Value="run", Type="String")
    value = ssm.get_parameter(Name="/controlroom/t")["Parameter"]["Value"]
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/controlroom/missing")
    # Then the answers are the engine's, and no connection was opened
    assert value == "run"
    assert opened == []


def test_a_streaming_body_and_a_query_protocol_come_through(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.setup_default_session()
    s3, sqs = local_client("s3", server.url), local_client("sqs", server.url)
    opened = _no_sockets(monkeypatch)
    s3.create_bucket(Bucket="controlroom-transport")
    s3.put_object(Bucket="controlroom-transport", Key="k", Body=b"\x00payload\xff")
    body = s3.get_object(Bucket="controlroom-transport", Key="k")["Body"].read()
    queue = sqs.create_queue(QueueName="controlroom-transport")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert body == b"\x00payload\xff"
    assert message["Body"] == "hello"
    assert opened == []


def test_a_stopped_engine_is_not_served_in_process(server: MotoServer) -> None:
    # Given a client for the engine, and the engine stopped
    boto3.setup_default_session()
    ssm = local_client("ssm", server.url)
    server.stop()
    # Then a request goes to the (closed) port, as any client elsewhere would see it
    with pytest.raises(Exception) as raised:
        ssm.get_parameter(Name="/controlroom/t")
    assert "Could not connect" in str(raised.value) or "Connection" in type(raised.value).__name__
    assert transport.serve(type("Request", (), {"url": server.url + "/"})()) is None
