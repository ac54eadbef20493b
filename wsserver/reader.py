"""
The history's one reader in this process: it reads every change in order and
hands each to the fan-out (`deliver`), from the position it started at; after a
Redis fault it reconnects and goes on from the last change read, or, if the
history lost it (Redis restarted), asks every subscriber to refetch (`resync`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from live import metrics
from wsserver.history import Entry, History, Position, StreamId

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0


class HistoryReader:
    """Reads the history after `cursor` (in `epoch`) and delivers each change."""

    def __init__(
        self,
        history: History,
        *,
        deliver: Callable[[Entry], Awaitable[None]],
        resync: Callable[[], None],
    ):
        self.history = history
        self.deliver = deliver
        self.resync = resync
        self.epoch: str | None = None
        self.cursor: StreamId | None = None  # the last change read
        self._task: asyncio.Task | None = None
        self._reading = asyncio.Event()
        self._failed = False  # the last read of the history failed

    async def position(self) -> Position:
        """Where the reader stands, once it has started (started on first ask)."""
        if self._task is None and not self._reading.is_set():
            self._task = asyncio.ensure_future(self._read_forever())
        await self._reading.wait()
        return Position(self.epoch, self.cursor)

    def stand_at(self, position: Position) -> None:
        """Stand at `position` without reading (for tests that deliver by hand)."""
        self.epoch, self.cursor = position.epoch, position.id
        self._reading.set()

    async def _read_forever(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                await self._resume()
                if self._failed:
                    metrics.redis_reconnects.inc()
                delay, self._failed = RECONNECT_MIN_SECONDS, False
                while True:
                    for entry in await self.history.read_after(self.cursor, self.epoch):
                        self.cursor = entry.id
                        lag = max(0.0, time.time() - entry.committed_at)
                        metrics.history_lag.set(lag)
                        await self.deliver(entry)
            except (RedisError, OSError) as exc:
                metrics.redis_errors.labels("history").inc()
                self._failed = True
                log.warning("History unreadable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _resume(self) -> None:
        """Go on from the last change read; if the history lost it, resync."""
        if self.cursor is not None:
            same_epoch = await self.history.epoch() == self.epoch
            if same_epoch and await self.history.reaches_back_to(self.cursor):
                return
            log.warning("History lost (Redis restarted?); asking clients to resync")
            self.resync()
        latest = await self.history.position()
        self.epoch, self.cursor = latest.epoch, latest.id
        self._reading.set()
