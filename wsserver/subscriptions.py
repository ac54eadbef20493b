"""
Subscriptions: who listens under which path, through which filters, from which
position, as whom, and the registry that finds them.

A subscription to `/api/notes/` hears `/api/notes/12/`; one to
`/api/notes/12/` hears only that resource (live/static/live/client.js: `hears`).
A subscription whose URL has a query (`/api/notes/?tag=x`) is filtered: it
hears each change under its path as its filtered GET would show it (the GET
that renders the change for its cohort also says whether the resource was and
is in the list that query filters: wsserver/credentials.py), in events of its
own that name it (`subscription`: its URL as subscribed). A subscriber holds one
subscription per path and query (its parameters in any order).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

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


def subscription_key(url: str) -> tuple[str, str]:
    """`(path, query)` of the subscription `url` names: its path in normal form
    and its query's parameters sorted by name (`""`: not filtered)."""
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return subscription_path(url), urlencode(sorted(pairs, key=lambda p: p[0]))


def ancestor_paths(url: str) -> list[str]:
    """`/a/b/` -> `["/a/b/", "/a/", "/"]`: every subscription path that hears it."""
    path = subscription_path(url)
    paths = [path]
    while path != "/":
        path = path[: path.rstrip("/").rfind("/") + 1]
        paths.append(path)
    return paths


@dataclass(eq=False, slots=True)  # thousands a process: no __dict__
class Subscription:
    """One subscriber listening under one path (through the filters of `query`;
    `url` as it asked), having heard every change up to `heard_up_to`, as
    `credentials` allow. While it is being caught up from the history, live
    changes wait in `backlog`."""

    subscriber: Subscriber
    url: str
    heard_up_to: StreamId
    credentials: Credentials
    backlog: list[Entry] | None = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None
    path: str = field(init=False)
    query: str = field(init=False)
    held: bool = field(default=False, init=False)  # by a registry, now

    def __post_init__(self):
        self.path, self.query = subscription_key(self.url)

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.query

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


Key = tuple[str, str]  # (path, query): `subscription_key`


class SubscriptionRegistry:
    """Who listens under which path: at most one subscription per subscriber,
    path and query, found by path (a change) or by subscriber (its connection
    closing)."""

    def __init__(self):
        self._by_path: dict[str, dict[tuple[Subscriber, str], Subscription]] = {}
        # A tuple, not a set: most subscribers hold one key (a set costs 216
        # bytes, and ten thousand sockets a process are the aim).
        self._by_subscriber: dict[Subscriber, tuple[Key, ...]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._by_path.values()))

    def __contains__(self, subscriber: Subscriber) -> bool:
        """Whether `subscriber` listens to anything."""
        return subscriber in self._by_subscriber

    def add(self, subscription: Subscription) -> None:
        """Hold `subscription` (none may be held for its subscriber and key)."""
        by_path = self._by_path.setdefault(subscription.path, {})
        by_path[subscription.subscriber, subscription.query] = subscription
        subscription.held = True
        keys = self._by_subscriber.get(subscription.subscriber, ())
        self._by_subscriber[subscription.subscriber] = (*keys, subscription.key)

    def remove(self, subscriber: Subscriber, key: Key) -> Subscription:
        """Stop holding `subscriber`'s subscription of `key`, and return it."""
        keys = tuple(k for k in self._by_subscriber[subscriber] if k != key)
        if keys:
            self._by_subscriber[subscriber] = keys
        else:
            del self._by_subscriber[subscriber]
        path, query = key
        subscription = self._by_path[path].pop((subscriber, query))
        subscription.held = False
        if not self._by_path[path]:
            del self._by_path[path]
        return subscription

    def get(self, subscriber: Subscriber, key: Key) -> Subscription | None:
        path, query = key
        return self._by_path.get(path, {}).get((subscriber, query))

    def keys_of(self, subscriber: Subscriber) -> list[Key]:
        return sorted(self._by_subscriber.get(subscriber, ()))

    def holds(self, subscription: Subscription) -> bool:
        """Whether `subscription` is still the one of its subscriber and key
        (checked for every subscriber a change is sent to: a flag, not a lookup)."""
        return subscription.held

    def of_identity(self, identity: str) -> list[Subscription]:
        return [s for s in self.all() if s.credentials.identity == identity]

    def all(self) -> list[Subscription]:
        return [s for by_path in self._by_path.values() for s in by_path.values()]

    def hearing(self, entry: Entry) -> list[Subscription]:
        """The subscriptions to send `entry` to now: of those not filtered, one
        per subscriber (the nearest path that hears it: its client hands the
        event on to the others); every filtered one."""
        unfiltered: dict[Subscriber, Subscription] = {}
        filtered: list[Subscription] = []
        for path in ancestor_paths(entry.url):
            for (subscriber, query), subscription in self._by_path.get(
                path, {}
            ).items():
                if not subscription.accept(entry):
                    continue
                if query:
                    filtered.append(subscription)
                else:
                    unfiltered.setdefault(subscriber, subscription)
        return [*unfiltered.values(), *filtered]
