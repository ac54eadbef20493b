"""The `/ws/api` WebSocket handler: one socket, frames in, replies and events out."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from tornado.websocket import WebSocketHandler

from live import metrics
from wsserver import handshake
from wsserver.bridge import Peer
from wsserver.budget import FrameBudget
from wsserver.handshake import ClientConnection
from wsserver.protocol import (
    BadMessage,
    Message,
    parse_message,
    readable_id,
    reply,
)
from wsserver.sending import CLOSE_POLICY_VIOLATION, BoundedSender, Unsent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SocketState:
    """One socket's own facts and bookkeeping, in one slotted object. Tornado's
    handler holds 27 attributes already; at 30, CPython stops sharing an
    instance dict's keys among instances, and each socket, idle or not, costs
    1.2 KiB more."""

    peer: Peer  # what every message carries into its WSGI request
    budget: FrameBudget  # spent on every frame: it knows when the last one came
    opened_at: float = field(default_factory=time.monotonic)
    in_flight: int = 0  # requests being answered, for `max_in_flight`
    ping_unanswered: bool = False
    unsent: Unsent = field(default_factory=Unsent)  # held for a slow reader


class ApiSocketHandler(ClientConnection, BoundedSender, WebSocketHandler):
    """One client connection speaking protocol v1 (docs/protocol.md)."""

    transport = "websocket"

    def initialize(self):
        super().initialize()
        self.state = SocketState(
            peer=handshake.peer_from(self.request),
            budget=FrameBudget(self.config.frames_per_second),
        )

    @property
    def last_frame_at(self) -> float:
        return self.state.budget.updated

    def prepare(self):
        # Refused before the upgrade (get() then never runs), so a client sees a
        # plain HTTP status. Not in an override of get(): that coroutine would
        # last as long as the socket, as Tornado's get() does.
        refusal = self.process.refusal(self.request, self.address)
        if refusal:
            return self.refuse_connection(*refusal)
        # Checked here, exactly: Tornado's own check would also take a page of
        # another scheme on this host and port.
        if not self.origin_admitted():
            return self.refuse_connection(403, "Origin not allowed.")
        return None

    def check_origin(self, origin):
        return True  # checked in prepare(), exactly, before Tornado would

    def get_compression_options(self):
        # Replies are small and CPU is the scarce resource: no permessage-deflate.
        return None

    def open(self):
        self.process.add(self)

    def keep_alive(self) -> None:
        """Ping; a peer that has not answered the previous ping is dropped. As
        with Tornado's own pings, the first comes an interval after the
        handshake at the earliest, and the answer may take another interval."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.state.ping_unanswered:
            metrics.refusals.labels("ping").inc()
            log.info("Closing %s: no answer to a ping", self.address)
            return self.close(reason="ping timed out")
        interval = self.config.ping_interval_seconds
        if time.monotonic() - self.state.opened_at >= interval:
            self.state.ping_unanswered = True
            self.ping()

    def on_pong(self, data):
        self.state.ping_unanswered = False

    def on_close(self):
        self.process.remove(self)

    def on_message(self, message):
        if self.ws_connection is None or self.ws_connection.is_closing():
            return  # closed (over budget, say): what is still buffered is ignored
        if not self.state.budget.spend():
            return self._over_budget(message)
        try:
            parsed = parse_message(message)
        except BadMessage as error:
            return self.send(error.reply())
        limit = self.config.max_in_flight
        if self.process.draining:
            self.refuse(
                parsed, 503, "Server is shutting down; retry elsewhere.", "draining"
            )
        elif self.state.in_flight >= limit:
            detail = f"Over {limit} requests in flight; wait for replies."
            self.refuse(parsed, 429, detail, "in_flight")
        elif self.process.full:
            detail = "Server is busy; retry shortly."
            self.refuse(parsed, 503, detail, "queue", retry_after=1)
        elif parsed.method == "UNSUBSCRIBE":
            self.send(self.unsubscribe(parsed))
        else:
            self.state.in_flight += 1
            task = asyncio.ensure_future(self.serve(parsed))
            task.add_done_callback(self._served)
            self.process.keep(task)

    def _served(self, task: asyncio.Task) -> None:
        self.state.in_flight -= 1

    def refuse(
        self,
        message: Message,
        status: int,
        detail: str,
        limit: str,
        *,
        retry_after=None,
    ) -> None:
        """Answer `message` without Django: it met `limit` (counted, not logged:
        a client flooding refused frames must not flood the log too)."""
        metrics.refusals.labels(limit).inc()
        answer = reply(
            status=status, detail=detail, retry_after=retry_after, **message.echo
        )
        self.send(answer)

    def _over_budget(self, message: str | bytes) -> None:
        rate = self.config.frames_per_second
        metrics.refusals.labels("frame_budget").inc()
        if self.state.budget.exhausted:  # refused for a second's worth, and went on
            log.warning("Closing %s: over its frame budget", self.address)
            return self.close(CLOSE_POLICY_VIOLATION, "Too many frames.")
        detail = f"More than {rate} frames a second on this connection; slow down."
        frame_id = readable_id(message)
        self.send(reply(status=429, id=frame_id, detail=detail, retry_after=1))

    def unsubscribe(self, message: Message) -> dict:
        if self.process.unsubscribe(self, message.url):
            return reply(status=200, detail="Unsubscribed.", **message.echo)
        return reply(status=404, detail="Not subscribed to this URL.", **message.echo)

    async def serve(self, message: Message) -> None:
        """Answer one message through the bridge; SUBSCRIBE is a GET that listens.
        (Django's request log has its line: live/requestlog.py.)"""
        subscription = None
        try:
            if message.method == "SUBSCRIBE":
                answer, subscription = await self.process.subscribe(
                    self, message, self.state.peer, limit=self.config.max_subscriptions
                )
            else:
                answer = await self.process.call_bridge(message, self.state.peer)
        except Exception:  # deliberately broad: any failure is this message's 500
            log.exception("Bridge failed: id=%r %s %s", *message.echo.values())
            answer = reply(status=500, detail="Internal server error.", **message.echo)
        self.send(answer)
        if subscription is not None:  # what changed since, after the reply
            await self.process.catch_up(subscription)
