"""Every open connection of this process: dispatch, limits and graceful drain."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from wsserver.bridge import Bridge, Message

log = logging.getLogger("wsserver")


class Hub:
    """The connections of one process and the bridge they share."""

    def __init__(self, *, bridge: Bridge, executor: Executor):
        self.bridge = bridge
        self.executor = executor
        self.connections: set = set()
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()

    def add(self, handler) -> None:
        self.connections.add(handler)

    def remove(self, handler) -> None:
        self.connections.discard(handler)

    async def dispatch(self, handler, message: Message) -> dict:
        """Run `message` through the bridge in the thread pool."""
        self.in_flight += 1
        self._idle.clear()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.executor, self.bridge.handle, message, handler.connection
            )
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

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
