"""`GET /ws/events?url=<path>`: a subscription as Server-Sent Events, for clients
that cannot open a WebSocket (a proxy that blocks them, say).

The same authorisation as a GET (credentials in the `Authorization` header only,
never in the query string), a first `snapshot` event with the GET's body, then
the same events as on a socket, each with `id:` set to its position;
`Last-Event-ID` resumes as `since` does. Served by the IOLoop: after the GET, no
Django thread is held.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from wsserver import handshake
from wsserver.protocol import BadMessage, parse_message
from wsserver.sending import Frame, Unsent, event_record, http_chunk

KEEP_ALIVE = b": ping\n\n"
KEEP_ALIVE_CHUNK = http_chunk(KEEP_ALIVE)

log = logging.getLogger(__name__)


class EventStreamHandler(handshake.ClientConnection, RequestHandler):
    """One subscription, streamed; it counts as a connection of the live process."""

    transport = "events"

    def initialize(self):
        super().initialize()
        self.last_frame_at = time.monotonic()  # a stream sends none: never idle
        self.unsent = Unsent()
        self.streaming = False  # the headers went: events go straight to the socket
        self.chunked = self.request.version == "HTTP/1.1"
        self.closed = asyncio.get_running_loop().create_future()

    def prepare(self):
        # A page elsewhere (listed in ALLOWED_ORIGINS) may read the stream, and
        # a refusal's status and body.
        origin = self.request.headers.get("Origin")
        if origin is not None and self.origin_admitted():
            self.set_header("Access-Control-Allow-Origin", origin)
            self.add_header("Vary", "Origin")

    def options(self):
        """The preflight of a page elsewhere: GET, with credentials in a header."""
        if self.origin_admitted():
            self.set_header("Access-Control-Allow-Methods", "GET")
            self.set_header(
                "Access-Control-Allow-Headers", "Authorization, Last-Event-ID"
            )
            self.set_header("Access-Control-Max-Age", "86400")
        self.set_status(204)
        self.finish()

    async def get(self):
        if not self.origin_admitted():
            return self.refuse_connection(403, "Origin not allowed.")
        if "token" in self.request.query_arguments:
            detail = "Send credentials in the Authorization header."
            return self.refuse_connection(400, detail)
        refusal = self.process.refusal(self.request, self.address)
        if refusal:
            return self.refuse_connection(*refusal)
        frame = {"method": "SUBSCRIBE", "url": self.get_query_argument("url", "")}
        if "Authorization" in self.request.headers:
            frame["headers"] = {"Authorization": self.request.headers["Authorization"]}
        if "Last-Event-ID" in self.request.headers:
            frame["since"] = self.request.headers["Last-Event-ID"]
        try:
            message = parse_message(json.dumps(frame))
        except BadMessage as error:
            return self.refuse_connection(400, error.detail)
        self.process.add(self)
        try:
            if await self._start(message):
                await self.closed  # (the snapshot is not kept meanwhile)
        finally:
            self.process.remove(self)

    async def _start(self, message) -> bool:
        """Subscribe, send the snapshot and what followed it; `False` if refused."""
        answer, subscription = await self.process.subscribe(
            self,
            message,
            handshake.peer_from(self.request, transport="events"),
            limit=1,
        )
        if subscription is None:
            self.set_status(answer["status"])
            for name in ("Content-Type", "Retry-After", "WWW-Authenticate"):
                if name in answer["headers"]:
                    self.set_header(name, answer["headers"][name])
            self.finish(json.dumps(answer.get("data", {})))
            return False
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # proxies: pass events at once
        if not answer.get("recovered"):
            self.write_event("snapshot", answer["position"], json.dumps(answer["data"]))
        self.flush()  # the headers and the snapshot are in the connection's queue
        self.streaming = True
        await self.process.catch_up(subscription)
        return True

    def keep_alive(self) -> None:
        """A comment, so that idle proxies do not cut the stream (the live process calls
        this for every stream at once, every `WS_PING_INTERVAL_SECONDS`)."""
        self._send(KEEP_ALIVE, KEEP_ALIVE_CHUNK)

    def write_event(self, name: str, position: str | None, data: str) -> None:
        self._send(event_record(name, position, data))

    def send_text(self, text: str) -> None:
        """A change for this stream (the fan-out's `Subscriber`): its record,
        made once for every stream it goes to when `text` is a `Frame`."""
        frame = text if isinstance(text, Frame) else Frame(text)
        self._send(frame.record, frame.chunked_record)
        name, _position = frame.event
        if name == "unsubscribed":  # its credentials ended: so does the stream
            self.close()

    def _send(self, record: bytes, chunk: bytes | None = None) -> None:
        """Send `record` (`chunk`: the same as a chunk, if made already)."""
        if self.closed.done():
            return
        if self.unsent.bytes > self.config.max_buffered_bytes:
            log.warning("Closing event stream of %s: not reading", self.address)
            return self.close()
        if not self.streaming:  # held until the headers go (EventStreamHandler._start)
            self.write(record)
            return
        # Past the headers, the bytes go to the connection as they are. Tornado
        # sends a body chunked exactly when the request is HTTP/1.1 (a GET
        # answered 200 with no Content-Length): tests/live/test_library_fences.py.
        if self.chunked:
            record = chunk or http_chunk(record)
        try:
            self.unsent.write(self.request.connection.stream, record)
        except StreamClosedError:
            self.close()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """End the stream (a drain, an idle cut or a slow reader)."""
        if not self.closed.done():
            self.closed.set_result(None)
            if not self._finished:
                self.finish()

    def on_connection_close(self):
        if not self.closed.done():
            self.closed.set_result(None)
