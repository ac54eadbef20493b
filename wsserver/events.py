"""
Event fan-out: one reader of the history per process, delivering each change to
the subscriptions at or above its URL, in order, once, as each subscriber's own
GET shows it (wsserver/audience.py).

App-agnostic: a change is `{"event", "url", ...}` in the history; a subscription
to `/api/snippets/` hears `/api/snippets/12/`, and one to `/api/snippets/12/`
hears only that resource. static/js/client.js matches event URLs by the same
rule (`hears`). A subscription starts at a position: every change after it is
delivered, replayed from the history where the reader has already passed it, or
the subscriber is told to refetch (`resync`). It ends (`unsubscribed`) when the
credentials it was made with expire or are revoked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from wsserver.audience import Credentials, CredentialsEnded, RenderFailed, event_for
from wsserver.history import Entry, History, Position, StreamId
from wsserver.protocol import encode
from wsserver.subscriptions import (
    Subscriber,
    Subscription,
    ancestor_paths,
    subscription_path,
)

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
# Renders kept for subscriptions catching up: (change, identity) pairs.
RENDERS_KEPT = 10_000
EXPIRED = "Token expired: subscribe again with a new one."
REVOKED = "Signed out, password changed or deactivated: sign in again."


Render = Callable[[Entry, Credentials], Awaitable[dict]]


class EventFanout:
    """The subscriptions of this process and the history reader feeding them."""

    def __init__(self, *, history: History, render: Render, grace_seconds: float):
        self.history = history
        self.render = render
        self.grace_seconds = grace_seconds
        self.subscriptions: dict[str, dict[Subscriber, Subscription]] = {}
        self.paths: dict[Subscriber, set[str]] = {}
        self.epoch: str | None = None
        self.cursor: StreamId | None = None  # the last change read
        self._renders: OrderedDict[tuple, asyncio.Future] = OrderedDict()
        self._reader: asyncio.Task | None = None
        self._reading = asyncio.Event()

    async def position(self) -> Position:
        """A position at or before every change committed so far: the last one
        this process read (for a snapshot about to be read; nothing committed
        before the snapshot can come after it unheard)."""
        await self._start()
        return Position(self.epoch, self.cursor)

    async def subscribe(
        self, subscriber: Subscriber, url: str, credentials: Credentials, *, after
    ) -> Subscription | None:
        """Listen to `url` from `after` on, in place of any subscription to it;
        `None` if the history no longer holds everything since (the caller sends
        a snapshot instead). It hears nothing until `catch_up` has run."""
        await self._start()
        if after.epoch != self.epoch or not await self.history.reaches_back_to(
            after.id
        ):
            return None
        path = subscription_path(url)
        self.unsubscribe(subscriber, path)
        subscription = Subscription(subscriber, path, after.id, credentials)
        self.subscriptions.setdefault(path, {})[subscriber] = subscription
        self.paths.setdefault(subscriber, set()).add(path)
        if credentials.expires is not None:
            delay = credentials.expires + self.grace_seconds - time.time()
            loop = asyncio.get_running_loop()
            subscription.expiry = loop.call_later(
                max(delay, 0), self.end, subscription, EXPIRED
            )
        return subscription

    def current(self, subscription: Subscription) -> bool:
        path = self.subscriptions.get(subscription.path, {})
        return path.get(subscription.subscriber) is subscription

    def subscription_of(self, subscriber: Subscriber, url: str) -> Subscription | None:
        return self.subscriptions.get(subscription_path(url), {}).get(subscriber)

    async def catch_up(self, subscription: Subscription) -> None:
        """Send what the reader passed before `subscription` began, then what came
        while that was read; from then on the subscription is live."""
        queue = await self.history.between(subscription.floor, self.cursor, self.epoch)
        while self.current(subscription):
            for entry in queue:
                if entry.id > subscription.floor and subscription.hears(entry):
                    subscription.floor = entry.id
                    await self._show(entry, [subscription])
            if not subscription.backlog:
                break
            queue, subscription.backlog = subscription.backlog, []
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
        subscription = self.subscriptions[path].pop(subscriber)
        if subscription.expiry is not None:
            subscription.expiry.cancel()
        if not self.subscriptions[path]:
            del self.subscriptions[path]

    def end(self, subscription: Subscription, detail: str) -> None:
        """End `subscription`: its credentials no longer hold."""
        if not self.current(subscription):
            return
        self._discard(subscription.subscriber, subscription.path)
        event = {"event": "unsubscribed", "url": subscription.path, "status": 401}
        subscription.subscriber.send_text(encode({**event, "data": {"detail": detail}}))

    def revoke(self, identity: str) -> None:
        for subscriptions in list(self.subscriptions.values()):
            for subscription in list(subscriptions.values()):
                if subscription.credentials.identity == identity:
                    self.end(subscription, REVOKED)

    async def deliver(self, entry: Entry) -> None:
        """Show one change to every subscriber that hears it, once each, rendered
        once per identity."""
        await self._finish(entry, self._begin(entry))

    def _begin(self, entry: Entry) -> list[tuple[list[Subscription], asyncio.Future]]:
        """Start rendering `entry` for each identity that hears it, at once (on
        Django's threads)."""
        if entry.url is None:  # a revocation or a resync: nothing to render
            return []
        hearing: dict[Subscriber, Subscription] = {}
        for path in ancestor_paths(entry.url):
            for subscriber, subscription in self.subscriptions.get(path, {}).items():
                if subscription.take(entry):
                    hearing.setdefault(subscriber, subscription)
        cohorts: dict[str, list[Subscription]] = {}
        for subscription in hearing.values():
            identity = subscription.credentials.identity
            cohorts.setdefault(identity, []).append(subscription)
        return [(group, self._render_for(entry, group)) for group in cohorts.values()]

    def _render_for(self, entry: Entry, group: list[Subscription]) -> asyncio.Future:
        """The render of `entry` for the identity of `group`, shared: when every
        socket resumes at once (after a deploy), each missed change is read once
        per identity, not once per socket."""
        identity = group[0].credentials.identity
        render = self._renders.get((entry.id, identity))
        if render is None or render.done() and render.exception() is not None:
            freshest = max(group, key=lambda s: s.credentials.expires or float("inf"))
            render = asyncio.ensure_future(self.render(entry, freshest.credentials))
            self._renders[entry.id, identity] = render
            while len(self._renders) > RENDERS_KEPT:
                self._renders.popitem(last=False)
        return render

    async def _finish(self, entry: Entry, renders) -> None:
        """Send `entry` as rendered for each group, or act on it if it is no
        change (a revocation, a resync)."""
        if entry.event == "revoked":
            return self.revoke(entry.record["identity"])
        if entry.url is None:  # a change that could not be recorded: refetch
            return self.resync()
        for group, render in renders:
            try:
                event = event_for(entry, await render)
            except CredentialsEnded as ended:
                for subscription in group:
                    self.end(subscription, ended.detail)
                continue
            except Exception as error:  # deliberately broad: never lose one silently
                if not isinstance(error, RenderFailed):
                    log.exception("Could not show %s %s", entry.event, entry.url)
                log.warning(
                    "Could not show %s %s; refetch asked", entry.event, entry.url
                )
                for subscription in group:
                    subscription.subscriber.send_text(_resync(subscription.path))
                continue
            if event is not None:
                text = encode(event)
                for subscription in group:
                    if self.current(subscription):
                        subscription.subscriber.send_text(text)

    async def _show(self, entry: Entry, group: list[Subscription]) -> None:
        """Render `entry` for the identity of `group` and send it to each."""
        await self._finish(entry, [(group, self._render_for(entry, group))])

    def resync(self) -> None:
        """Tell every subscription that changes were lost: fetch again."""
        for path, subscriptions in self.subscriptions.items():
            for subscriber in subscriptions:
                subscriber.send_text(_resync(path))

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
                        await self.deliver(entry)
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


def _resync(path: str) -> str:
    return json.dumps({"event": "resync", "url": path})
