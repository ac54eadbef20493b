"""
The history of changes: a Redis stream the app appends to, read by every web
process. A position is an entry's stream id plus the history's epoch, a random
mark stored beside it that changes when the history is lost (a Redis restarted
without persistence), so a position from before can never be taken for one after.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass

import redis.asyncio as redis
from redis.exceptions import ResponseError

from live.contract import (
    REVOKED,
    RIGHTS_CHANGED,
    RIGHTS_CHANGING,
    RIGHTS_COUNTER_SUFFIX,
)

log = logging.getLogger(__name__)

StreamId = tuple[int, int]
START: StreamId = (0, 0)
CONNECTIONS = 16


def stream_id(text: str | bytes) -> StreamId:
    milliseconds, sequence = (text.decode() if isinstance(text, bytes) else text).split(
        "-"
    )
    return int(milliseconds), int(sequence)


@dataclass(frozen=True)
class Position:
    """Where in the history a client stands: `"<epoch>:<ms>-<seq>"` on the wire."""

    epoch: str
    id: StreamId

    def __str__(self) -> str:
        return f"{self.epoch}:{self.id[0]}-{self.id[1]}"

    @classmethod
    def parse(cls, text: str) -> Position | None:
        """The position `text` names, or `None` if it is not one."""
        epoch, _, entry = text.partition(":")
        try:
            return cls(epoch, stream_id(entry)) if epoch.isalnum() else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Entry:
    """One record as read from the history: a change to the resource at `url`,
    a `resync` (no `url`) or a `revoked` identity."""

    id: StreamId
    event: str
    url: str | None
    record: dict  # as the app wrote it (live/tracking.py)
    position: str

    @property
    def committed_at(self) -> float:
        """When it was written (Unix time, by Redis's clock): the stream id's
        milliseconds. The app writes a change once its transaction commits."""
        return self.id[0] / 1000


class History:
    """Reads of the history in Redis (the app's processes append to it)."""

    def __init__(self, *, redis_url: str, stream: str, redis_options: dict):
        self.stream = stream
        timeout = redis_options.get("socket_timeout") or 5
        # A burst of resumes (every socket after a deploy) waits for one of a
        # few connections rather than opening a connection each.
        pool = redis.BlockingConnectionPool.from_url(
            redis_url, max_connections=CONNECTIONS, timeout=timeout, **redis_options
        )
        self.client = redis.Redis(connection_pool=pool)
        # A blocking read returns well within the socket timeout, so a read that
        # times out means a dead link, not a quiet one.
        self.block_ms = int(timeout * 1000 / 2)

    async def epoch(self) -> str:
        """The history's epoch, made now if the history has none (or lost it)."""
        key = f"{self.stream}:epoch"
        await self.client.set(key, secrets.token_hex(4), nx=True)
        return (await self.client.get(key)).decode()

    async def position(self) -> Position:
        """The position of the latest change: everything after it is to come."""
        epoch = await self.epoch()
        latest = await self.client.xrevrange(self.stream, count=1)
        return Position(epoch, stream_id(latest[0][0]) if latest else START)

    async def reaches_back_to(self, entry_id: StreamId) -> bool:
        """Return `True` if every change after `entry_id` is still in the history."""
        try:
            info = await self.client.xinfo_stream(self.stream)
        except ResponseError:  # no stream yet: nothing was ever trimmed
            return True
        if info["entries-added"] == info["length"]:
            return True
        # Trimmed: all is there only from the oldest entry kept (or so we can tell).
        return entry_id >= stream_id(info["recorded-first-entry-id"])

    async def rights_count(self) -> int:
        """How many rights changes were ever announced (live/revocation.py)."""
        return int(await self.client.get(self.stream + RIGHTS_COUNTER_SUFFIX) or 0)

    async def after(self, after: StreamId, epoch: str) -> list[Entry]:
        """Every record after `after`, without waiting."""
        entries = await self.client.xrange(self.stream, f"({_text(after)}", "+")
        return _entries(entries, epoch)

    async def between(
        self, after: StreamId, upto: StreamId, epoch: str, *, most: int | None = None
    ) -> list[Entry] | None:
        """The changes after `after`, up to and including `upto`; `None` if there
        are more than `most`."""
        if after >= upto:
            return []
        count = None if most is None else most + 1
        entries = await self.client.xrange(
            self.stream, f"({_text(after)}", _text(upto), count=count
        )
        if most is not None and len(entries) > most:
            return None
        return _entries(entries, epoch)

    async def read_after(self, after: StreamId, epoch: str) -> list[Entry]:
        """The next changes after `after`, waiting a while for one to come."""
        found = await self.client.xread(
            {self.stream: _text(after)}, block=self.block_ms, count=1000
        )
        return _entries(found[0][1] if found else [], epoch)


def _text(entry_id: StreamId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def _entries(raw_entries: list, epoch: str) -> list[Entry]:
    return [entry for raw in raw_entries if (entry := _entry(raw, epoch))]


def _entry(raw: tuple, epoch: str) -> Entry | None:
    """An `Entry` for a raw stream entry, or `None` (logged) if it is not a change:
    anything can write to the stream, as Redis is shared by design."""
    entry_id, fields = stream_id(raw[0]), raw[1]
    try:
        event = json.loads(fields[b"event"])
        name, url = event["event"], event.get("url")
    except (KeyError, TypeError, ValueError):
        log.warning("Ignoring a malformed event: %.80r", fields)
        return None
    valid_url = url is None or isinstance(url, str) and url.startswith("/")
    if not isinstance(name, str) or not valid_url or (url or "").startswith("//"):
        log.warning("Ignoring a malformed event: %.80r", fields)
        return None
    about_identity = (REVOKED, RIGHTS_CHANGING, RIGHTS_CHANGED)
    if name in about_identity and not isinstance(event.get("identity"), str):
        log.warning("Ignoring a record without an identity: %.80r", fields)
        return None
    if url is None and name not in ("resync", *about_identity):
        log.warning("Ignoring an event without a url: %.80r", fields)
        return None
    return Entry(entry_id, name, url, event, str(Position(epoch, entry_id)))
