"""
Subscriptions: who listens under which path, from which position, as whom.

A subscription to `/api/notes/` hears `/api/notes/12/`; one to
`/api/notes/12/` hears only that resource (live/static/live/client.js: `hears`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

from wsserver.audience import Credentials
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
    """One subscriber listening under one path, from `floor` on, as `credentials`
    allow. While it is being caught up from the history, live changes wait in
    `backlog`."""

    subscriber: Subscriber
    path: str
    floor: StreamId
    credentials: Credentials
    backlog: list[Entry] | None = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None

    def take(self, entry: Entry) -> bool:
        """Return `True` if `entry` is to be sent now; keep order, drop repeats."""
        if entry.id <= self.floor:
            return False
        if self.backlog is not None:
            self.backlog.append(entry)
            return False
        self.floor = entry.id
        return True

    def hears(self, entry: Entry) -> bool:
        return entry.url is not None and self.path in ancestor_paths(entry.url)
