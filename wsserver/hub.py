"""Every open connection of this process: dispatch, limits and graceful drain."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from functools import partial

from wsserver.bridge import Bridge, Message
from wsserver.events import EventFanout

log = logging.getLogger("wsserver")


class Hub:
    """The connections of one process and the bridge they share."""

    def __init__(self, *, bridge: Bridge, executor: Executor, fanout: EventFanout):
        self.bridge = bridge
        self.executor = executor
        self.fanout = fanout
        self.connections: set = set()
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()

    def add(self, handler) -> None:
        self.connections.add(handler)

    def remove(self, handler) -> None:
        self.connections.discard(handler)
        self.fanout.unsubscribe_all(handler)

    async def dispatch(self, handler, message: Message) -> dict:
        """Answer `message`: subscriptions here, everything else through the bridge.

        SUBSCRIBE is a GET through the bridge, so authentication, permissions and
        throttles decide; only a successful GET subscribes, and only after it, so
        a refused client never hears an event.
        """
        if message.method == "UNSUBSCRIBE":
            return self._unsubscribe(handler, message)
        method = "GET" if message.method == "SUBSCRIBE" else message.method
        self.in_flight += 1
        self._idle.clear()
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(
                self.executor,
                partial(self.bridge.handle, message, handler.connection, method=method),
            )
            subscribed = message.method == "SUBSCRIBE" and 200 <= reply["status"] < 300
            # A connection that closed while its GET ran has nothing to hear.
            if subscribed and handler in self.connections:
                self.fanout.subscribe(handler, message.url)
            return reply
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    def _unsubscribe(self, handler, message: Message) -> dict:
        if not self.fanout.unsubscribe(handler, message.url):
            status, detail = 404, "Not subscribed to this URL."
        else:
            status, detail = 200, "Unsubscribed."
        return message.error(status=status, detail=detail)

    async def drain(self, *, timeout: float) -> None:
        """Refuse new requests, let those in flight reply, then close with 1001."""
        self.draining = True
        if self.in_flight:
            log.info("Draining: %d requests in flight", self.in_flight)
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                log.warning("Drain timed out after %ss", timeout)
        for handler in list(self.connections):
            handler.close(1001, "Server is shutting down.")
        # Give the close frames a moment to leave before the loop stops.
        await asyncio.sleep(0.1)
