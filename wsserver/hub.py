"""The process: its open sockets, the hop onto Django's threads, and the drain."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from wsserver.bridge import Bridge, Peer
from wsserver.events import EventFanout
from wsserver.protocol import Message

if TYPE_CHECKING:
    from wsserver.handlers import ApiSocketHandler

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001


class Hub:
    """The connections of one process, and the bridge and fan-out they share."""

    def __init__(self, *, bridge: Bridge, executor: Executor, fanout: EventFanout):
        self.bridge = bridge
        self.executor = executor
        self.fanout = fanout
        self.connections: set[ApiSocketHandler] = set()
        self.draining = False

    def add(self, handler: ApiSocketHandler) -> None:
        self.connections.add(handler)

    def remove(self, handler: ApiSocketHandler) -> None:
        self.connections.discard(handler)
        self.fanout.unsubscribe_all(handler)

    async def call_bridge(self, message: Message, peer: Peer) -> dict:
        """Answer `message` on a Django thread: Django never runs on the IOLoop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self.bridge.handle, message, peer
        )

    async def drain(self, *, timeout: float) -> None:
        """Refuse new requests, let those in flight reply, then close with 1001."""
        self.draining = True
        in_flight = set().union(*(handler.tasks for handler in self.connections))
        if in_flight:
            log.info("Draining: %d requests in flight", len(in_flight))
            _done, pending = await asyncio.wait(in_flight, timeout=timeout)
            if pending:
                log.warning("Drain timed out after %ss", timeout)
        for handler in list(self.connections):
            handler.close(CLOSE_GOING_AWAY, "Server is shutting down.")
        # Give the close frames a moment to leave before the loop stops.
        await asyncio.sleep(0.1)
