"""
Event fan-out: one reader of the history per process, delivering each change to
the subscriptions at or above its URL, in order, once.

App-agnostic: a change is `{"event", "url", "data"}` in the history; a
subscription to `/api/snippets/` hears `/api/snippets/12/`, and one to
`/api/snippets/12/` hears only that resource. static/js/client.js matches event
URLs by the same rule (`hears`). A subscription starts at a position: every
change after it is delivered, replayed from the history where the reader has
already passed it, or the subscriber is told to refetch (`resync`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

from redis.exceptions import RedisError

from wsserver.history import Entry, History, Position, StreamId

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0


class Subscriber(Protocol):
    """Anything that takes serialized frames: a socket or an event stream."""

    def send_text(self, text: str) -> None: ...


def subscription_path(url: str) -> str:
    """The path a subscription listens under, in one normal form: decoded (as
    Django routes it: `/api/snippets/%31/` is snippet 1) and ending in `/`."""
    path = unquote(urlsplit(url).path)
    return path if path.endswith("/") else path + "/"


def ancestor_paths(url: str) -> list[str]:
    """`/a/b/` -> `["/a/b/", "/a/", "/"]`: every subscription path that hears it."""
    path = subscription_path(url)
    paths = [path]
    while path != "/":
        path = path[: path.rstrip("/").rfind("/") + 1]
        paths.append(path)
    return paths


@dataclass(eq=False)
class Subscription:
    """One subscriber listening under one path, from `floor` on. While it is
    being caught up from the history, live changes wait in `backlog`."""

    subscriber: Subscriber
    path: str
    floor: StreamId
    backlog: list[Entry] | None = field(default_factory=list)

    def take(self, entry: Entry) -> bool:
        """Return `True` if `entry` is to be sent now; keep order, drop repeats."""
        if entry.id <= self.floor:
            return False
        if self.backlog is not None:
            self.backlog.append(entry)
            return False
        self.floor = entry.id
        return True


class EventFanout:
    """The subscriptions of this process and the history reader feeding them."""

    def __init__(self, *, history: History):
        self.history = history
        self.subscriptions: dict[str, dict[Subscriber, Subscription]] = {}
        self.paths: dict[Subscriber, set[str]] = {}
        self.epoch: str | None = None
        self.cursor: StreamId | None = None  # the last change read
        self._reader: asyncio.Task | None = None
        self._reading = asyncio.Event()

    async def position(self) -> Position:
        """A position at or before every change committed so far: the last one
        this process read (for a snapshot about to be read; nothing committed
        before the snapshot can come after it unheard)."""
        await self._start()
        return Position(self.epoch, self.cursor)

    async def subscribe(
        self, subscriber: Subscriber, url: str, *, after: Position
    ) -> Subscription | None:
        """Listen to `url` from `after` on; `None` if the history no longer holds
        everything since (the caller sends a snapshot instead). The subscription
        hears nothing until `catch_up` has run."""
        await self._start()
        if after.epoch != self.epoch or not await self.history.reaches_back_to(
            after.id
        ):
            return None
        subscription = Subscription(subscriber, subscription_path(url), after.id)
        self.subscriptions.setdefault(subscription.path, {})[subscriber] = subscription
        self.paths.setdefault(subscriber, set()).add(subscription.path)
        return subscription

    async def catch_up(self, subscription: Subscription) -> None:
        """Send what the reader passed before `subscription` began, then what came
        while that was read; from then on the subscription is live."""
        missed = await self.history.between(subscription.floor, self.cursor, self.epoch)
        for entry in [*missed, *subscription.backlog]:
            if entry.id > subscription.floor and _hears(subscription, entry):
                subscription.floor = entry.id
                subscription.subscriber.send_text(entry.text)
        subscription.backlog = None

    def unsubscribe(self, subscriber: Subscriber, url: str) -> bool:
        """Stop `subscriber` hearing `url`; return `False` if it was not subscribed."""
        path = subscription_path(url)
        if path not in self.paths.get(subscriber, ()):
            return False
        self._discard(subscriber, path)
        return True

    def unsubscribe_all(self, subscriber: Subscriber) -> None:
        for path in list(self.paths.get(subscriber, ())):
            self._discard(subscriber, path)

    def _discard(self, subscriber: Subscriber, path: str) -> None:
        self.paths[subscriber].discard(path)
        if not self.paths[subscriber]:
            del self.paths[subscriber]
        del self.subscriptions[path][subscriber]
        if not self.subscriptions[path]:
            del self.subscriptions[path]

    def deliver(self, entry: Entry) -> None:
        """Send one change to every subscriber that hears it, once each."""
        if entry.url is None:  # a change that could not be recorded: refetch
            return self.resync()
        sent = set()
        for path in ancestor_paths(entry.url):
            for subscriber, subscription in self.subscriptions.get(path, {}).items():
                if subscription.take(entry) and subscriber not in sent:
                    sent.add(subscriber)
                    subscriber.send_text(entry.text)

    def resync(self) -> None:
        """Tell every subscription that changes were lost: fetch again."""
        for path, subscriptions in self.subscriptions.items():
            text = json.dumps({"event": "resync", "url": path})
            for subscriber in subscriptions:
                subscriber.send_text(text)

    async def _start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read_forever())
        await self._reading.wait()

    async def _read_forever(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        while True:
            try:
                await self._resume()
                delay = RECONNECT_MIN_SECONDS
                while True:
                    for entry in await self.history.read_after(self.cursor, self.epoch):
                        self.cursor = entry.id
                        self.deliver(entry)
            except (RedisError, OSError) as exc:
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


def _hears(subscription: Subscription, entry: Entry) -> bool:
    return entry.url is not None and subscription.path in ancestor_paths(entry.url)
