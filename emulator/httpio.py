"""HTTP/1.1 over TLS on the standard library: request/response types and the threaded server.

One listener serves login, the Defender API and the admin endpoints (keep-alive, TCP_NODELAY).
The TLS handshake runs in the connection's own thread, so a stalled client never blocks accept.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from .deflate import deflate

_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_BODY = 4 * 1024 * 1024


@dataclass
class Request:
    """One parsed request. `query` keeps the last value of each name (`+` decodes to space)."""

    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    headers: Mapping[str, str] | Message
    body: bytes
    host: str

    @property
    def base_url(self) -> str:
        """`https://{Host}` as the client addressed us (absolute URLs in replies use it)."""
        return f"https://{self.host}"

    def header(self, name: str) -> str:
        """Header value or ""; names are case-insensitive."""
        return self.headers.get(name) or ""

    def form(self) -> dict[str, str]:
        """The body as application/x-www-form-urlencoded (last value wins)."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Response:
    """What to send. `drop` closes the connection without answering (fault injection).

    `compressible` bodies are deflated when the client accepts it and the knob allows;
    `chunked` selects Transfer-Encoding: chunked; `encoded` marks a body already deflated.
    """

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    compressible: bool = False
    chunked: bool = False
    encoded: bool = False

    def header(self, name: str) -> str | None:
        """First header value with that name (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(
    status: int, payload: Any, content_type: str = "application/json; charset=utf-8"
) -> Response:
    """A compact JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, [("Content-Type", content_type)])


def html_response(status: int, html: str) -> Response:
    """A text/html response."""
    return Response(status, html.encode(), [("Content-Type", "text/html; charset=utf-8")])


def redirect(location: str) -> Response:
    """302 to `location`."""
    return Response(302, b"", [("Location", location), ("Content-Type", "text/html")])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300
    server: TLSServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.parse_request():
                return
            req = self._read_request()
            if req is None:
                return
            resp = self.server.dispatch(req)
            self._send(req, resp)
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            self.close_connection = True

    def _read_request(self) -> Request | None:
        path, _, raw_query = self.path.partition("?")
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        elif length:
            size = int(length) if length.isdigit() else -1
            if not 0 <= size <= MAX_BODY:
                self.send_error(413 if size > MAX_BODY else 400)
                self.close_connection = True
                return None
            body = self.rfile.read(size)
        else:
            body = b""
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        return Request(
            method=self.command,
            path=path,
            raw_query=raw_query,
            query=query,
            headers=self.headers,
            body=body,
            host=self.headers.get("Host") or self.server.default_host,
        )

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ConnectionError("request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _send(self, req: Request, resp: Response) -> None:
        if resp.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = resp.body
        head = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}"]
        head.extend(f"{k}: {v}" for k, v in resp.headers)
        head.append("Date: " + formatdate(time.time(), usegmt=True))
        if resp.compressible and "deflate" in req.header("Accept-Encoding").lower():
            if not resp.encoded:
                body = deflate(body)
            head.append("Content-Encoding: deflate")
        if self.close_connection:
            head.append("Connection: close")
        if resp.chunked and body:
            head.append("Transfer-Encoding: chunked")
            payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        else:
            head.append(f"Content-Length: {len(body)}")
            payload = body
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
        self.wfile.write(data)


class TLSServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that wraps each accepted socket in TLS inside its worker thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        context: ssl.SSLContext,
        dispatch: Callable[[Request], Response],
    ) -> None:
        self.ssl_context = context
        self.dispatch = dispatch
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)
        self.default_host = f"{address[0]}:{self.server_address[1]}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(15)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._open_lock:
            self._open.add(tls)
        try:
            _Handler(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._open_lock:
                self._open.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        return

    def close_connections(self) -> None:
        """Shut down every open client connection (used by stop())."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
