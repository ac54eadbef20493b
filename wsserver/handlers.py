"""The `/ws/api` WebSocket handler: one socket, frames in, replies and events out."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from wsserver.bridge import Peer
from wsserver.protocol import BadMessage, Message, encode, parse_message, reply

log = logging.getLogger(__name__)

PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto")
CLOSE_POLICY_VIOLATION = 1008


def origin_allowed(origin: str, *, allowed_origins: tuple[str, ...]) -> bool:
    """Return `True` if a page from `origin` may open a socket.

    Allowed are origins whose host is in `ALLOWED_HOSTS` and those listed in
    `WS_ALLOWED_ORIGINS`; a foreign page must not act with a visitor's identity.
    """
    if origin in allowed_origins:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    domain, _port = split_domain_port(parts.netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class ApiSocketHandler(WebSocketHandler):
    """One client connection speaking protocol v1 (see README.md)."""

    def initialize(self):
        self.hub = self.application.hub
        self.config = self.application.config
        # Requests being answered: the in-flight limit, and what a drain awaits.
        # (asyncio keeps only weak references to tasks.)
        self.tasks: set[asyncio.Task] = set()
        self.buffered_bytes = 0

    async def get(self, *args, **kwargs):
        # Refuse before the upgrade, so a client sees a plain HTTP status.
        if self.hub.draining:
            self._refuse(503, "Server is shutting down; reconnect shortly.")
            return
        if len(self.hub.connections) >= self.config.max_connections:
            self._refuse(503, "Too many connections to this server; retry later.")
            return
        await super().get(*args, **kwargs)

    def _refuse(self, status: int, detail: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"detail": detail}))

    def check_origin(self, origin):
        return origin_allowed(origin, allowed_origins=self.config.allowed_origins)

    def get_compression_options(self):
        # Replies are small and CPU is the scarce resource: no permessage-deflate.
        return None

    def open(self):
        request = self.request
        host = request.host
        server_name, server_port = split_domain_port(host)
        self.peer = Peer(
            remote_addr=request.remote_ip,
            host=host,
            scheme=request.protocol,
            server_name=server_name or "localhost",
            server_port=server_port or ("443" if request.protocol == "https" else "80"),
            # Handshake cookies are deliberately absent: a page on another site
            # must not act with a visitor's session. The token is the credential.
            proxy_headers={
                name: request.headers[name]
                for name in PROXY_HEADERS
                if name in request.headers
            },
        )
        self.hub.add(self)

    def on_close(self):
        self.hub.remove(self)

    def on_message(self, message):
        try:
            parsed = parse_message(message)
        except BadMessage as error:
            self.send(error.reply())
            return
        if self.hub.draining:
            detail = "Server is shutting down; retry on a new connection."
            self.send(reply(status=503, detail=detail, **parsed.echo))
        elif len(self.tasks) >= self.config.max_in_flight:
            detail = (
                f"Too many requests in flight on this connection "
                f"(at most {self.config.max_in_flight}); wait for replies."
            )
            self.send(reply(status=429, detail=detail, **parsed.echo))
        elif parsed.method == "UNSUBSCRIBE":
            self.send(self.unsubscribe(parsed))
        else:
            task = asyncio.ensure_future(self.serve(parsed))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def unsubscribe(self, message: Message) -> dict:
        if self.hub.fanout.unsubscribe(self, message.url):
            return reply(status=200, detail="Unsubscribed.", **message.echo)
        return reply(status=404, detail="Not subscribed to this URL.", **message.echo)

    async def serve(self, message: Message) -> None:
        """Answer one message through the bridge; SUBSCRIBE is a GET that listens.

        Only a successful GET subscribes, and only after it, so a client that
        authentication, permissions or throttles refuse never hears an event.
        """
        started = time.perf_counter()
        subscribing = message.method == "SUBSCRIBE"
        try:
            request = replace(message, method="GET") if subscribing else message
            answer = {**await self.hub.call_bridge(request, self.peer), **message.echo}
        except Exception:
            log.exception("Bridge failed: id=%r %s %s", *message.echo.values())
            answer = reply(status=500, detail="Internal server error.", **message.echo)
        # A connection that closed while its GET ran has nothing to hear.
        if (
            subscribing
            and 200 <= answer["status"] < 300
            and self in self.hub.connections
        ):
            self.hub.fanout.subscribe(self, message.url)
        log.info(
            "id=%r %s %s %s %.1fms peer=%s",
            message.id,
            message.method,
            message.url,
            answer["status"],
            (time.perf_counter() - started) * 1000,
            self.peer.remote_addr,
        )
        self.send(answer)

    def send(self, frame: dict) -> None:
        self.send_text(encode(frame))

    def send_text(self, text: str) -> None:
        """Send a serialized frame; drop a client that lets frames pile up unread."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        size = len(text)
        if self.buffered_bytes + size > self.config.max_buffered_bytes:
            log.warning(
                "Closing connection from %s: client is not reading (%d bytes queued)",
                self.peer.remote_addr,
                self.buffered_bytes,
            )
            self.close(CLOSE_POLICY_VIOLATION, "Client is not reading its replies.")
            return
        self.buffered_bytes += size
        try:
            written = self.write_message(text)
        except WebSocketClosedError:
            return
        written.add_done_callback(lambda future: self._written(future, size))

    def _written(self, future, size: int) -> None:
        self.buffered_bytes -= size
        if not future.cancelled():
            exception = future.exception()
            if exception is not None and not isinstance(exception, StreamClosedError):
                log.warning("Write failed: %r", exception)
