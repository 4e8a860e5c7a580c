"""LocalGateway: real HTTP in, REST proxy events to a Python handler, its response back out."""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from controlroom.local.gateway import LocalGateway


class EchoHandler:
    """Returns the event it got as JSON; remembers every event."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def __call__(self, event, context):
        self.events.append(event)
        return {
            "statusCode": 201,
            "multiValueHeaders": {"X-Seen": ["a", "b"]},
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"ok": True}),
            "isBase64Encoded": False,
        }


@pytest.fixture
def echo():
    handler = EchoHandler()
    gateway = LocalGateway(handler, port=0)
    base_url = gateway.start()
    yield handler, base_url
    gateway.stop()


def test_get_becomes_a_rest_event_with_decoded_query(echo):
    handler, base_url = echo
    # When a browser GETs a link with an encoded approver address
    with urllib.request.urlopen(
        f"{base_url}/approvals/apr-1?approver=a%2Bops%40example.com&x=1&x=2"
    ) as response:
        status, headers, body = response.status, response.headers, json.loads(response.read())
    # Then the handler got a REST event Powertools can route, and the response came back intact
    event = handler.events[0]
    assert (event["httpMethod"], event["path"], event["requestContext"]["stage"]) == (
        "GET",
        "/approvals/apr-1",
        "local",
    )
    assert event["queryStringParameters"] == {"approver": "a+ops@example.com", "x": "2"}
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert status == 201 and body == {"ok": True} and headers.get_all("X-Seen") == ["a", "b"]


def test_post_form_text_and_binary_bodies(echo):
    handler, base_url = echo
    form = b"verdict=approve&comment=ok"
    urllib.request.urlopen(urllib.request.Request(f"{base_url}/approvals/apr-1", data=form, method="POST"))
    urllib.request.urlopen(urllib.request.Request(f"{base_url}/bin", data=b"\xff\x00\xfe", method="POST"))
    text_event, binary_event = handler.events
    assert text_event["body"] == "verdict=approve&comment=ok" and text_event["isBase64Encoded"] is False
    assert (
        binary_event["isBase64Encoded"] is True and base64.b64decode(binary_event["body"]) == b"\xff\x00\xfe"
    )


def test_handler_failure_is_a_502_not_a_dropped_connection():
    def broken(event, context):
        raise RuntimeError("boom")

    gateway = LocalGateway(broken)
    base_url = gateway.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(f"{base_url}/anything")
        assert failure.value.code == 502 and b"boom" not in failure.value.read()
    finally:
        gateway.stop()


def test_bad_content_length_is_400(echo):
    handler, base_url = echo
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.putrequest("POST", "/x")
    connection.putheader("Content-Length", "nope")
    connection.endheaders()
    assert connection.getresponse().status == 400 and handler.events == []
    connection.close()


def test_stop_releases_the_port():
    gateway = LocalGateway(EchoHandler())
    base_url = gateway.start()
    gateway.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base_url}/", timeout=2)


@pytest.mark.parametrize("method", ["TRACE", "BREW", "PROPFIND"])
def test_unknown_methods_are_405_and_never_reach_the_handler(echo, method):
    handler, base_url = echo
    split = urlsplit(base_url)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=5)
    connection.request(method, "/approvals/apr-1")
    response = connection.getresponse()
    assert response.status == 405 and "POST" in (response.getheader("Allow") or "")
    response.read()
    connection.close()
    assert handler.events == []


def test_a_stalled_client_is_disconnected_after_the_read_timeout():
    import socket

    # Given a gateway with a short read timeout
    gateway = LocalGateway(EchoHandler(), port=0, read_timeout=0.3)
    split = urlsplit(gateway.start())
    try:
        # When a client sends half a request line and stops
        with socket.create_connection((split.hostname, split.port), timeout=5) as client:
            client.sendall(b"GET /approvals/apr-1 HT")
            # Then the gateway closes the connection (recv returns EOF) well before the client gives up
            assert client.recv(1024) == b""
    finally:
        gateway.stop()


def test_a_burst_of_connections_queues_in_the_listen_backlog():
    import socket

    from controlroom.local.gateway import _GatewayServer

    # Given a bound gateway socket whose accept loop has not started (so connections only queue)
    server = _GatewayServer(("127.0.0.1", 0), EchoHandler(), "local")
    host, port = server.server_address[:2]
    clients = []
    try:
        # When 40 clients connect at once, Then every connect completes (a backlog of 5 would stall them)
        for _ in range(40):
            client = socket.socket()
            client.settimeout(2)
            client.connect((host, port))
            clients.append(client)
        assert len(clients) == 40
    finally:
        for client in clients:
            client.close()
        server.server_close()


def test_restarting_on_the_same_port_works_at_once():
    # Given a gateway that served a request on a fixed port and stopped (its side closed first)
    first = LocalGateway(EchoHandler(), port=0)
    port = urlsplit(first.start()).port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=5) as response:
        response.read()
    first.stop()
    # When it starts again on that port at once, Then it binds and serves
    again = LocalGateway(EchoHandler(), port=port)
    try:
        with urllib.request.urlopen(f"{again.start()}/x", timeout=5) as response:
            assert response.status == 201
    finally:
        again.stop()
