"""The process: its open sockets, the hop onto Django's threads, and the drain."""

from __future__ import annotations

import asyncio
import logging
import time
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
    """The connections of one process, and the bridge, threads and fan-out they
    share. Requests of both transports wait for Django's threads in one bounded
    queue, counted here (on the IOLoop), so a drain waits for all of them."""

    def __init__(
        self,
        *,
        bridge: Bridge,
        executor: Executor,
        fanout: EventFanout,
        capacity: int,
    ):
        self.bridge = bridge
        self.executor = executor
        self.fanout = fanout
        self.capacity = capacity
        self.connections: set[ApiSocketHandler] = set()
        self.draining = False
        self.in_django = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def full(self) -> bool:
        """Every thread busy and the queue behind them full: refuse with 503."""
        return self.in_django >= self.capacity

    def enter(self) -> None:
        self.in_django += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_django -= 1
        if not self.in_django:
            self._idle.set()

    def add(self, handler: ApiSocketHandler) -> None:
        self.connections.add(handler)

    def remove(self, handler: ApiSocketHandler) -> None:
        self.connections.discard(handler)
        self.fanout.unsubscribe_all(handler)

    def connections_from(self, address: str) -> int:
        return sum(handler.address == address for handler in self.connections)

    async def call_bridge(self, message: Message, peer: Peer) -> dict:
        """Answer `message` on a Django thread: Django never runs on the IOLoop."""
        self.enter()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self.executor, self.bridge.handle, message, peer
            )
        finally:
            self.leave()

    def close_idle(self, *, idle_seconds: float) -> None:
        """Close sockets that sent nothing and subscribed to nothing for so long."""
        since = time.monotonic() - idle_seconds
        for handler in list(self.connections):
            if handler.last_frame_at < since and handler not in self.fanout.paths:
                handler.close(CLOSE_GOING_AWAY, "Idle for too long.")

    async def drain(self, *, timeout: float) -> None:
        """Refuse new requests, let those in flight reply (over either transport),
        then close every socket with 1001."""
        self.draining = True
        if self.in_django:
            log.info("Draining: %d requests in flight", self.in_django)
            try:
                await asyncio.wait_for(self._idle.wait(), timeout)
            except TimeoutError:
                log.warning("Drain timed out after %ss", timeout)
        for handler in list(self.connections):
            handler.close(CLOSE_GOING_AWAY, "Server is shutting down.")
        # Give the close frames a moment to leave before the loop stops.
        await asyncio.sleep(0.1)
