"""Django's threads: every request of either transport, and every render of a
change, runs on them, never on the IOLoop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import Executor

from wsserver.bridge import Bridge, Peer
from wsserver.protocol import Message


class DjangoThreads:
    """The bridge on a bounded pool of threads: `await threads(message, peer)`."""

    def __init__(self, *, bridge: Bridge, executor: Executor):
        self.bridge = bridge
        self.executor = executor

    async def __call__(self, message: Message, peer: Peer, marks: Mapping = {}) -> dict:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self.bridge.handle, message, peer, marks
        )
