"""LocalGateway: a small threaded HTTP server that turns requests into API Gateway REST (v1) proxy events."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Handler = Callable[[dict[str, Any], Any], Any]
MAX_BODY_BYTES = 1_048_576
# The methods API Gateway's proxy integration passes on; anything else is answered here with 405.
PROXIED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
# A client that opens a connection and sends nothing (or half a request) loses it after this long.
READ_TIMEOUT_SECONDS = 10.0
# Pending connections the kernel queues before refusing; the stdlib default of 5 drops bursts.
LISTEN_BACKLOG = 128


class GatewayContext:
    """The Lambda context attributes Powertools reads, for handlers called by the gateway."""

    function_name = "controlroom-local-gateway"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:controlroom-local-gateway"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/controlroom-local-gateway"
    log_stream_name = "local"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def rest_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The API Gateway REST proxy event for one request (``target`` is the raw path and query).

    Parameters
    ----------
    method : str
        HTTP method.
    target : str
        The request target as sent, e.g. ``/approvals/apr-1?approver=a%40b``.
    headers : list of (name, value)
        Request headers in order (repeated names allowed).
    body : bytes
        The request body (empty for none).
    stage : str
        Stage name put in ``requestContext.stage`` (Powertools reads it).
    source_ip : str
        The client address.

    Returns
    -------
    dict
        A REST (payload 1.0) proxy event: text bodies as text, anything else base64 encoded.
    """
    split = urlsplit(target)
    path = unquote(split.path) or "/"
    multi_query = parse_qs(split.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "stage": stage,
            "path": path,
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": multi_headers.get("User-Agent", [""])[-1]},
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def _response_parts(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return 502, [("Content-Type", "text/plain")], b"gateway: the handler returned no valid response"
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    body = result.get("body") or ""
    if not isinstance(body, str):
        body = json.dumps(body)
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return int(result["statusCode"]), headers, data


class _RequestHandler(BaseHTTPRequestHandler):
    server: _GatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._write(400, [("Content-Type", "text/plain")], b"gateway: bad Content-Length")
            return
        if length > MAX_BODY_BYTES:
            self._write(413, [("Content-Type", "text/plain")], b"gateway: request body too large")
            return
        body = self.rfile.read(length) if length > 0 else b""
        event = rest_event(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            self.server.stage,
            self.client_address[0],
        )
        try:
            result = self.server.handler(event, GatewayContext(event["requestContext"]["requestId"]))
        except Exception:
            # What API Gateway answers when the integration fails; the details stay in the handler's logs.
            result = {
                "statusCode": 502,
                "headers": {"Content-Type": "text/plain"},
                "body": "gateway: the handler failed",
            }
        self._write(*_response_parts(result))

    def _write(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def setup(self) -> None:
        # Every read on the socket times out: a stalled client cannot hold a thread forever.
        self.request.settimeout(self.server.read_timeout)
        super().setup()

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler answers a method it has no do_<METHOD> for with 501; say 405 instead.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._write(
            405,
            [("Content-Type", "text/plain"), ("Allow", ", ".join(PROXIED_METHODS)), ("Connection", "close")],
            b"gateway: method not allowed",
        )

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: request lines carry signed approval links.
        return


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR: a restart binds the same port at once, even with connections in TIME_WAIT.
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        handler: Handler,
        stage: str,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        self.stage = stage
        self.read_timeout = read_timeout


class LocalGateway:
    """Serve ``handler(event, context)`` over HTTP on ``host:port`` (port 0 picks a free one).

    Examples
    --------
    >>> gateway = LocalGateway(handler)          # doctest: +SKIP
    >>> base_url = gateway.start()               # doctest: +SKIP
    >>> gateway.stop()                           # doctest: +SKIP
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        stage: str = "local",
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._handler, self._host, self._port, self._stage = handler, host, port, stage
        self._read_timeout = read_timeout
        self._server: _GatewayServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running gateway."""
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Bind, serve in a background thread and return the base URL."""
        if self._server is None:
            self._server = _GatewayServer(
                (self._host, self._port), self._handler, self._stage, self._read_timeout
            )
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="controlroom-gateway", daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None
