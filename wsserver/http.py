"""Every path but the socket's and the event stream's: Django over WSGI, each request
handed over exactly as sent, with the limits a public server needs."""

from __future__ import annotations

import contextlib
import json
import socket
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tornado import gen, httputil
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler
from tornado.wsgi import WSGIContainer

from live import metrics, requestlog
from live.limits import ServerConfig
from wsserver.handshake import client_address
from wsserver.wsgi import WSGIApp, as_http_servers_do

if TYPE_CHECKING:
    from wsserver.process import LiveProcess

# After refusing a body: how long, and how many reads, to discard the rest.
LINGER_SECONDS = 2
LINGER_READS = 64


def log_request(handler: RequestHandler) -> None:
    """The request log's line for a socket's or an event stream's handshake
    (Tornado's `log_function`): the requests on it are Django's to log."""
    log_answer(
        handler.request,
        handler.get_status(),
        num_proxies=handler.application.config.num_proxies,
        transport=getattr(handler, "transport", "http"),
    )


def log_answer(
    request: httputil.HTTPServerRequest,
    status: int,
    *,
    num_proxies: int,
    transport: str = "http",
    size: int | None = None,
) -> None:
    """The request log's line (live/requestlog.py) for what this server answers
    itself, in Django's stead: the same fields, the client's address as
    `NUM_PROXIES` trusts it (not the proxy's), never the query string."""
    requestlog.log_request(
        transport=transport,
        method=request.method,
        path=urlsplit(request.uri or "").path,
        status=status,
        duration_ms=1000 * request.request_time(),
        size=size,
        client=client_address(request, num_proxies=num_proxies),
        request_id=request_id_of(request),
    )


def request_id_of(request: httputil.HTTPServerRequest) -> str:
    """The request's id (kept in its headers, so it is made once)."""
    rid = requestlog.request_id(request.headers.get(requestlog.REQUEST_ID_HEADER))
    request.headers[requestlog.REQUEST_ID_HEADER] = rid
    return rid


class DjangoContainer(WSGIContainer, httputil.HTTPServerConnectionDelegate):
    """Tornado's WSGI container on the live process's threads, counted in it, so that
    a drain waits for HTTP requests too and a full queue answers 503 at once.

    Requests reach it whole and untouched (`WholeRequest`): not through
    Tornado's `RequestHandler`, which parses form bodies (answering its own 400
    to what Django would take) and refuses methods it does not list (a 405
    without `Allow`). Django decides both."""

    def __init__(self, wsgi_app: WSGIApp, *, process: LiveProcess):
        super().__init__(
            self.closing_when_draining(as_http_servers_do(wsgi_app)),
            executor=process.executor,
        )
        self.process = process

    def closing_when_draining(self, wsgi_app: WSGIApp) -> WSGIApp:
        """While the process drains, each reply says `Connection: close`, so a
        client sends its next request elsewhere rather than on a connection
        about to close (this server's header, not the app's)."""

        def app(environ, start_response):
            if not self.process.draining:
                return wsgi_app(environ, start_response)

            def start_closing(status, headers, exc_info=None):
                closing = [(k, v) for k, v in headers if k.lower() != "connection"]
                closing.append(("Connection", "close"))
                return start_response(status, closing, exc_info)

            return wsgi_app(environ, start_closing)

        return app

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return WholeRequest(self, request_conn)

    def __call__(self, request: httputil.HTTPServerRequest) -> None:
        if self.process.full:
            metrics.refusals.labels("queue").inc()
            detail = "Server is busy; retry shortly."
            return respond(
                request,
                503,
                {"detail": detail},
                retry_after=1,
                config=self.process.config,
            )
        self.process.enter("http")
        IOLoop.current().spawn_callback(self._handle_counted, request)

    async def _handle_counted(self, request: httputil.HTTPServerRequest) -> None:
        try:
            await self.handle_request(request)
        finally:
            self.process.leave("http")

    def environ(self, request: httputil.HTTPServerRequest) -> dict:
        # WSGI cannot tell `X_Forwarded_For` from `X-Forwarded-For`: a header
        # spelled with underscores would override the proxy's. Drop them, as
        # gunicorn and nginx do.
        for name in [name for name in request.headers if "_" in name]:
            del request.headers[name]
        return super().environ(request)

    def _log(self, status_code: int, request: httputil.HTTPServerRequest) -> None:
        pass  # Django's request log has the line (live/requestlog.py)


class WholeRequest(httputil.HTTPMessageDelegate):
    """One request, read whole, then handed to `handle` as it was sent."""

    __slots__ = ("handle", "connection", "request", "chunks")

    def __init__(self, handle, connection):
        self.handle = handle
        self.connection = connection
        self.chunks: list[bytes] = []

    def headers_received(self, start_line, headers):
        self.request = httputil.HTTPServerRequest(
            connection=self.connection, start_line=start_line, headers=headers
        )

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        self.request.body = b"".join(self.chunks)
        self.chunks = []
        self.handle(self.request)

    def on_connection_close(self):
        self.chunks = []


def refusal_headers(
    headers: httputil.HTTPHeaders, *, allowed_origins: tuple[str, ...]
) -> dict:
    """What a refusal the server makes itself carries besides its body, for a
    request with `headers`: what lets a page on another origin (listed in
    `ALLOWED_ORIGINS`) read it, as Django's answers would."""
    origin = headers.get("Origin")
    if origin is None or origin not in allowed_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def respond(
    request: httputil.HTTPServerRequest,
    status: int,
    data: dict,
    *,
    config: ServerConfig,
    retry_after: int | None = None,
) -> None:
    """Answer `request` with a JSON body, from the IOLoop, without Django."""
    body = json.dumps(data).encode()
    headers = httputil.HTTPHeaders(
        {"Content-Type": "application/json", "Content-Length": str(len(body))}
    )
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    headers[requestlog.REQUEST_ID_HEADER] = request_id_of(request)
    origins = config.allowed_origins
    headers.update(refusal_headers(request.headers, allowed_origins=origins))
    reason = httputil.responses.get(status, "Unknown")
    start_line = httputil.ResponseStartLine("HTTP/1.1", status, reason)
    request.connection.write_headers(start_line, headers, chunk=body)
    request.connection.finish()
    log_answer(request, status, num_proxies=config.num_proxies, size=len(body))


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

    __slots__ = ("connection", "delegate", "limit", "config")  # per connection

    def __init__(self, delegate, connection, *, limit: int, config: ServerConfig):
        self.delegate = delegate
        self.connection = connection
        self.limit = limit
        self.config = config

    def headers_received(self, start_line, headers):
        length = headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.limit:
            request = httputil.HTTPServerRequest(
                connection=self.connection, start_line=start_line, headers=headers
            )
            self._refuse(request)
            return None
        return self.delegate.headers_received(start_line, headers)

    def _refuse(self, request: httputil.HTTPServerRequest) -> None:
        metrics.refusals.labels("size").inc()
        body = json.dumps({"detail": f"Request body larger than {self.limit} bytes."})
        extra = refusal_headers(
            request.headers, allowed_origins=self.config.allowed_origins
        )
        extra[requestlog.REQUEST_ID_HEADER] = request_id_of(request)
        head = "".join(
            [
                "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n",
                *(f"{name}: {value}\r\n" for name, value in extra.items()),
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n",
            ]
        )
        # Detached, the connection reads no more of this request.
        stream = self.connection.detach()
        IOLoop.current().spawn_callback(close_lingering, stream, (head + body).encode())
        log_answer(request, 413, num_proxies=self.config.num_proxies, size=len(body))

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        self.delegate.finish()

    def on_connection_close(self):
        self.delegate.on_connection_close()
