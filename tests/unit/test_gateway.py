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
