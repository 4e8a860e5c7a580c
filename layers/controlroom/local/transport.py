"""Requests from this process to its own local engine are served by the engine's WSGI app, not over TCP.

Our handlers run inside the engine's process, yet their boto3 clients talk to it through its HTTP
endpoint: every call opened a TCP connection (werkzeug's server closes each one), had a thread
spawned for it, and was parsed twice, which made a round trip several times the work of the
backend call itself. A botocore ``before-send`` hook hands the signed request to the same WSGI app
the server runs (the same routing, patches and locks), in the calling thread, and gives botocore
the app's response. Processes outside (the CLI, a browser) still use HTTP, and so does any request
for another endpoint.
"""

from __future__ import annotations

import io
import threading
from typing import Any
from urllib.parse import urlsplit

_apps: dict[str, Any] = {}
_lock = threading.Lock()
_installed = False


class _Body(io.BytesIO):
    """The raw body botocore reads an AWSResponse from: ``stream()``, or ``read()`` for a streaming member."""

    def stream(self, **_: Any) -> Any:
        content = self.read()
        if content:
            yield content


def _text(value: str | bytes) -> str:
    # botocore keeps some header values (X-Amz-Target, the signature) as bytes.
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def serve(request: Any, **_: Any) -> Any:
    """botocore ``before-send``: the engine's response to ``request`` if it is for an engine here, else None."""
    app = _apps.get(_origin(request.url))
    if app is None:
        return None
    from botocore.awsrequest import AWSResponse
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    parts = urlsplit(request.url)
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    builder = EnvironBuilder(
        method=request.method,
        base_url=f"{parts.scheme}://{parts.netloc}",
        path=parts.path or "/",
        query_string=parts.query,
        headers=[(name, _text(value)) for name, value in request.headers.items()],
        data=body or b"",
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    try:
        content = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(headers.items()), _Body(content))


def cache_backend_lookup() -> None:
    """moto's server lists its package directory (listdir, and stat of ~180 entries) twice per request.

    It does so to route the request to a backend (``list_of_moto_modules``): about a millisecond of CPU
    per request, more than most backend calls. The directory does not change while the engine runs.
    """
    from moto import backends

    if getattr(backends.list_of_moto_modules, "cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules.cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]


def register(endpoint_url: str, app: Any) -> None:
    """Serve requests for ``endpoint_url`` from this process with ``app`` (a server's WSGI application).

    Installs the hook once, for sessions created from now on and for boto3's default session.
    """
    global _installed
    import boto3
    from botocore.handlers import BUILTIN_HANDLERS

    with _lock:
        cache_backend_lookup()
        _apps[_origin(endpoint_url)] = app
        if not _installed:
            BUILTIN_HANDLERS.append(("before-send", serve))
            _installed = True
        default = boto3.DEFAULT_SESSION
        if default is not None:
            # A session copies BUILTIN_HANDLERS when it is created; clients copy their session's.
            default.events.unregister("before-send", serve)
            default.events.register("before-send", serve)


def unregister(endpoint_url: str) -> None:
    """Stop serving ``endpoint_url`` in process (its server stopped): requests for it go over HTTP again."""
    with _lock:
        _apps.pop(_origin(endpoint_url), None)
