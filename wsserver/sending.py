"""Sending on a socket whose client may not read: bounded, never blocking."""

import logging

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from wsserver.protocol import encode, reply

log = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008


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
        """Send a serialized frame; close a client that lets frames pile up unread.

        The bound is on what is still queued when the next frame comes, so one
        large reply to a reading client always goes through.
        """
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.buffered_bytes > self.config.max_buffered_bytes:
            log.warning(
                "Closing connection from %s: client is not reading (%d bytes queued)",
                self.address,
                self.state.buffered_bytes,
            )
            self.close(CLOSE_POLICY_VIOLATION, "Client is not reading its replies.")
            return
        size = len(text)
        self.state.buffered_bytes += size
        try:
            written = self.write_message(text)
        except WebSocketClosedError:
            return
        written.add_done_callback(lambda future: self._written(future, size))

    def _written(self, future, size: int) -> None:
        self.state.buffered_bytes -= size
        if not future.cancelled():
            exception = future.exception()
            closed = (StreamClosedError, WebSocketClosedError)
            if exception is not None and not isinstance(exception, closed):
                log.warning("Write failed: %r", exception)
