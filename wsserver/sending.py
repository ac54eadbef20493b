"""
Sending on a socket or stream whose client may not read: bounded, never
blocking, and an event that many clients hear alike encoded once for all.

A change heard by a thousand subscribers is one `Frame`: its JSON text, whose
WebSocket frame and event-stream record are each made once, when first asked
for, and whose bytes are then written to every socket as they are
(`write_through`): no per-socket encoding, framing, future or task, which is
what Tornado's `write_message` spends per socket and what limits a crowd.
"""

from __future__ import annotations

import json
import logging
import struct
from asyncio import Future
from functools import cached_property

from tornado.iostream import IOStream, StreamClosedError

from wsserver.protocol import encode, reply

log = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008

FIN_TEXT = 0x81  # a whole message (FIN) of text (opcode 1); servers never mask


class Frame(str):
    """A frame's JSON text that also keeps the bytes each transport sends for
    it. A `str`, so that anything taking text takes it; the bytes are made on
    first use and shared by every client it is sent to."""

    @cached_property
    def websocket(self) -> bytes:
        return websocket_frame(self.encode())

    @cached_property
    def event(self) -> tuple[str | None, str | None]:
        """The event's name and position (`None` if it has none)."""
        event = json.loads(self)
        return event.get("event"), event.get("position")

    @cached_property
    def record(self) -> bytes:
        """Its Server-Sent Events record."""
        return event_record(*self.event, self)

    @cached_property
    def chunked_record(self) -> bytes:
        """The record as one chunk of an HTTP/1.1 body sent chunked."""
        return http_chunk(self.record)


def event_record(name: str, position: str | None, data: str) -> bytes:
    """A Server-Sent Events record: `event:`, `id:` (the position), `data:`."""
    lines = [f"event: {name}", *([f"id: {position}"] if position else [])]
    return "\n".join([*lines, f"data: {data}", "", ""]).encode()


def websocket_frame(payload: bytes) -> bytes:
    """One unmasked text frame carrying `payload` (RFC 6455, section 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, size)
    return header + payload


def http_chunk(data: bytes) -> bytes:
    """`data` as one chunk of a body sent with `Transfer-Encoding: chunked`."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def write_through(stream: IOStream, data: bytes) -> tuple[int, Future | None]:
    """Write `data` to `stream` after whatever it still holds: `(0, None)` if
    the kernel took it all at once, else how many bytes the stream now holds
    for later and the future of their writing.

    With nothing queued, the bytes go straight to the socket (one `send`, no
    future); what the kernel does not take, or anything on an encrypted stream,
    goes through the stream's own queue, in order. Raises `StreamClosedError`.
    """
    if type(stream) is IOStream and not stream.writing() and not stream.closed():
        try:
            sent = stream.socket.send(data)
        except OSError:  # full, or failing: the stream's own write finds which
            sent = 0
        if sent == len(data):
            return 0, None
        data = memoryview(data)[sent:]
    return len(data), stream.write(data)


class Unsent:
    """What one client has left unread that this process still holds: bytes
    written to its stream that the kernel has not taken yet."""

    __slots__ = ("bytes",)

    def __init__(self):
        self.bytes = 0

    def write(self, stream: IOStream, data: bytes) -> None:
        """`write_through`, counted until written. Raises `StreamClosedError`."""
        queued, writing = write_through(stream, data)
        if writing is not None:
            self.bytes += queued
            writing.add_done_callback(lambda future: self._written(future, queued))

    def _written(self, future: Future, size: int) -> None:
        self.bytes -= size
        if not future.cancelled():
            exception = future.exception()
            if exception is not None and not isinstance(exception, StreamClosedError):
                log.warning("Write failed: %r", exception)


class BoundedSender:
    """For a `WebSocketHandler` with `config`, `address` and `state` (a
    `SocketState`): replies and events share one bound on what a client leaves
    unread (`max_buffered_bytes`)."""

    def send(self, frame: dict) -> None:
        text = encode(frame)
        if len(text) > self.config.max_reply_bytes and "event" not in frame:
            detail = (
                f"The reply ({len(text)} bytes) is larger than this server sends "
                f"over WebSocket ({self.config.max_reply_bytes}); use HTTP."
            )
            echo = {key: frame.get(key) for key in ("id", "method", "url")}
            text = encode(reply(status=500, detail=detail, **echo))
        self.send_text(text)

    def send_text(self, text: str) -> None:
        """Send a serialized frame (a `Frame`'s bytes as they are); close a
        client that lets frames pile up unread.

        The bound is on what is still queued when the next frame comes, so one
        large reply to a reading client always goes through.
        """
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        unsent = self.state.unsent
        if unsent.bytes > self.config.max_buffered_bytes:
            log.warning(
                "Closing connection from %s: client is not reading (%d bytes queued)",
                self.address,
                unsent.bytes,
            )
            self.close(CLOSE_POLICY_VIOLATION, "Client is not reading its replies.")
            return
        if isinstance(text, Frame):
            data = text.websocket
        else:
            data = websocket_frame(text.encode())
        try:
            unsent.write(self.ws_connection.stream, data)
        except StreamClosedError:
            return
