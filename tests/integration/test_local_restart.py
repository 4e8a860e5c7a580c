"""Restarting the local engine: the same port binds at once (SO_REUSEADDR)."""

from __future__ import annotations

import socket

from controlroom.local.server import free_port, start_server


def _request_server_closes(port: int) -> bytes:
    """One request the server answers and then closes first, leaving its side in TIME_WAIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /moto-api/reset-auth HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    return data


def test_the_moto_server_restarts_on_the_same_port_at_once():
    # Given a server on a fixed port that answered a request and closed the connection itself
    port = free_port()
    first = start_server(port)
    assert _request_server_closes(port).startswith(b"HTTP/1.1")
    first.stop()
    # When it starts again on that port at once (the server's side of that connection is in TIME_WAIT)
    again = start_server(port)
    try:
        # Then it binds and answers
        assert again.port == port and _request_server_closes(port).startswith(b"HTTP/1.1")
    finally:
        again.stop()
