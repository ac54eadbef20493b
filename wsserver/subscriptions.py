"""
Subscriptions: who listens under which path, from which position, as whom, and
the registry that finds them.

A subscription to `/api/notes/` hears `/api/notes/12/`; one to
`/api/notes/12/` hears only that resource (live/static/live/client.js: `hears`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

from wsserver.credentials import Credentials
from wsserver.history import Entry, StreamId


class Subscriber(Protocol):
    """Anything that takes serialized frames: a socket or an event stream."""

    def send_text(self, text: str) -> None: ...


def subscription_path(url: str) -> str:
    """The path a subscription listens under, in one normal form: decoded (as
    Django routes it: `/api/notes/%31/` is note 1) and ending in `/`."""
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
    """One subscriber listening under one path, having heard every change up to
    `heard_up_to`, as `credentials` allow. While it is being caught up from the
    history, live changes wait in `backlog`."""

    subscriber: Subscriber
    path: str
    heard_up_to: StreamId
    credentials: Credentials
    backlog: list[Entry] | None = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None

    def accept(self, entry: Entry) -> bool:
        """Return `True` if `entry` is to be sent now; keep order, drop repeats
        (and keep it for later while catching up)."""
        if entry.id <= self.heard_up_to:
            return False
        if self.backlog is not None:
            self.backlog.append(entry)
            return False
        self.heard_up_to = entry.id
        return True

    def hears(self, entry: Entry) -> bool:
        return entry.url is not None and self.path in ancestor_paths(entry.url)


class SubscriptionRegistry:
    """Who listens under which path: at most one subscription per subscriber and
    path, found by path (a change) or by subscriber (its connection closing)."""

    def __init__(self):
        self._by_path: dict[str, dict[Subscriber, Subscription]] = {}
        self._by_subscriber: dict[Subscriber, set[str]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._by_path.values()))

    def __contains__(self, subscriber: Subscriber) -> bool:
        """Whether `subscriber` listens to anything."""
        return subscriber in self._by_subscriber

    def add(self, subscription: Subscription) -> None:
        """Hold `subscription` (none may be held for its subscriber and path)."""
        by_path = self._by_path.setdefault(subscription.path, {})
        by_path[subscription.subscriber] = subscription
        self._by_subscriber.setdefault(subscription.subscriber, set()).add(
            subscription.path
        )

    def remove(self, subscriber: Subscriber, path: str) -> Subscription:
        """Stop holding `subscriber`'s subscription to `path`, and return it."""
        paths = self._by_subscriber[subscriber]
        paths.discard(path)
        if not paths:
            del self._by_subscriber[subscriber]
        subscription = self._by_path[path].pop(subscriber)
        if not self._by_path[path]:
            del self._by_path[path]
        return subscription

    def get(self, subscriber: Subscriber, path: str) -> Subscription | None:
        return self._by_path.get(path, {}).get(subscriber)

    def paths_of(self, subscriber: Subscriber) -> list[str]:
        return sorted(self._by_subscriber.get(subscriber, ()))

    def holds(self, subscription: Subscription) -> bool:
        """Whether `subscription` is still the one of its subscriber and path."""
        return self.get(subscription.subscriber, subscription.path) is subscription

    def of_identity(self, identity: str) -> list[Subscription]:
        return [s for s in self.all() if s.credentials.identity == identity]

    def all(self) -> list[Subscription]:
        return [s for by_path in self._by_path.values() for s in by_path.values()]

    def hearing(self, entry: Entry) -> list[Subscription]:
        """The subscriptions to send `entry` to now, one per subscriber (the
        nearest path that hears it)."""
        hearing: dict[Subscriber, Subscription] = {}
        for path in ancestor_paths(entry.url):
            for subscriber, subscription in self._by_path.get(path, {}).items():
                if subscription.accept(entry):
                    hearing.setdefault(subscriber, subscription)
        return list(hearing.values())
