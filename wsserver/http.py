"""Every path but `/ws/api`: Django over WSGI, with the limits a public server needs."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tornado import gen, httputil
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler
from tornado.wsgi import WSGIContainer

from wsserver.wsgi import WSGIApp, as_http_servers_do

if TYPE_CHECKING:
    from wsserver.hub import Hub

access_log = logging.getLogger("tornado.access")
# After refusing a body: how long, and how many reads, to discard the rest.
LINGER_SECONDS = 2
LINGER_READS = 64


def log_request(handler: RequestHandler) -> None:
    """Tornado's access log line, without the query string (it may hold secrets)."""
    log_path(handler.get_status(), handler.request)


def log_path(status: int, request: httputil.HTTPServerRequest) -> None:
    level = logging.INFO if status < 400 else logging.WARNING
    level = logging.ERROR if status >= 500 else level
    path = urlsplit(request.uri or "").path
    milliseconds = 1000 * request.request_time()
    access_log.log(
        level, "%d %s %s (%s) %.1fms", status, request.method, path,
        request.remote_ip, milliseconds,
    )  # fmt: skip


class DjangoContainer(WSGIContainer):
    """Tornado's WSGI container on the hub's threads, counted in the hub, so that
    a drain waits for HTTP requests too and a full queue answers 503 at once."""

    def __init__(self, wsgi_app: WSGIApp, *, hub: Hub):
        super().__init__(as_http_servers_do(wsgi_app), executor=hub.executor)
        self.hub = hub

    def __call__(self, request: httputil.HTTPServerRequest) -> None:
        if self.hub.full:
            detail = "Server is busy; retry shortly."
            return respond(request, 503, {"detail": detail}, retry_after=1)
        self.hub.enter()
        IOLoop.current().spawn_callback(self._handle_counted, request)

    async def _handle_counted(self, request: httputil.HTTPServerRequest) -> None:
        try:
            await self.handle_request(request)
        finally:
            self.hub.leave()

    def environ(self, request: httputil.HTTPServerRequest) -> dict:
        # WSGI cannot tell `X_Forwarded_For` from `X-Forwarded-For`: a header
        # spelled with underscores would override the proxy's. Drop them, as
        # gunicorn and nginx do.
        for name in [name for name in request.headers if "_" in name]:
            del request.headers[name]
        return super().environ(request)

    def _log(self, status_code: int, request: httputil.HTTPServerRequest) -> None:
        log_path(status_code, request)


def respond(
    request: httputil.HTTPServerRequest,
    status: int,
    data: dict,
    *,
    retry_after: int | None = None,
) -> None:
    """Answer `request` with a JSON body, from the IOLoop, without Django."""
    body = json.dumps(data).encode()
    headers = httputil.HTTPHeaders(
        {"Content-Type": "application/json", "Content-Length": str(len(body))}
    )
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    reason = httputil.responses.get(status, "Unknown")
    start_line = httputil.ResponseStartLine("HTTP/1.1", status, reason)
    request.connection.write_headers(start_line, headers, chunk=body)
    request.connection.finish()
    log_path(status, request)


async def close_lingering(stream, response: bytes) -> None:
    """Send `response`, then close the way HTTP servers do when a client may
    still be sending: our side first, then a short while discarding what comes.
    Closing at once would reset the connection, and the reset can destroy the
    response before the client reads it."""
    with contextlib.suppress(StreamClosedError, OSError, TimeoutError):
        await stream.write(response)
        stream.socket.shutdown(socket.SHUT_WR)
        deadline = IOLoop.current().time() + LINGER_SECONDS
        for _ in range(LINGER_READS):
            remaining = deadline - IOLoop.current().time()
            await gen.with_timeout(
                timedelta(seconds=max(remaining, 0)),
                stream.read_bytes(64 * 1024, partial=True),
            )
    stream.close()


class BodyLimit(httputil.HTTPMessageDelegate):
    """Refuse a request whose `Content-Length` passes `limit` with 413 before
    reading any of its body. (A chunked body passing the limit is cut off by
    Tornado's own `max_body_size`, with 400.)"""

    __slots__ = ("connection", "delegate", "limit")  # one a connection

    def __init__(self, delegate, connection, *, limit: int):
        self.delegate = delegate
        self.connection = connection
        self.limit = limit

    def headers_received(self, start_line, headers):
        length = headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.limit:
            self._refuse(int(length))
            return None
        return self.delegate.headers_received(start_line, headers)

    def _refuse(self, length: int) -> None:
        body = json.dumps({"detail": f"Request body larger than {self.limit} bytes."})
        head = (
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        # Detached, the connection reads no more of this request.
        stream = self.connection.detach()
        IOLoop.current().spawn_callback(close_lingering, stream, (head + body).encode())
        access_log.warning("413 refused a request body of %d bytes", length)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        self.delegate.finish()

    def on_connection_close(self):
        self.delegate.on_connection_close()
