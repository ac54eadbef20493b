"""
Event fan-out: one reader of the history per process, delivering each change to
the subscriptions at or above its URL, in order, once, as each subscriber's own
GET shows it (wsserver/credentials.py), rendered once per render key: subscribers
of one cohort share a render (wsserver/renders.py keeps it for those catching
up).

App-agnostic: a change is `{"event", "url", ...}` in the history; a subscription
to `/api/notes/` hears `/api/notes/12/`, and one to `/api/notes/12/`
hears only that resource. live/static/live/client.js matches event URLs by the same
rule (`hears`). A subscription starts at a position: every change after it is
delivered, replayed from the history where the reader has already passed it, or
the subscriber is told to refetch (`resync`). A replay is a request of the
subscriber's (throttled, a few at a time so requests keep their threads); one
further behind than `most` changes is refused (the caller sends a snapshot). A
subscription ends (`unsubscribed`) when the credentials it was made with expire
or are revoked.

The path of a change, top to bottom:

    History.read_after (history.py)
      -> HistoryReader (reader.py) -> EventFanout.deliver(entry)
      -> registry.hearing(entry) (subscriptions.py): who hears it, grouped by
         Credentials.render_key (credentials.py): a cohort's, or one identity's
      -> _show(entry, key, group), once per key:
         RenderCache.share (renders.py) -> _render -> the app's GET of the
         resource on Django's threads (credentials.render -> threads.py ->
         bridge.py) -> frames_for: created, updated, deleted or nothing, for
         the subscriptions without a query and for each filtered list
      -> _apart: who may not share it (see below), shown by renders of their own
      -> send_text to each subscriber (handlers.py: a socket; sse.py: a stream)
         of the render's `Frame`, encoded once for all of them (sending.py)

Sharing a render is checked, never trusted: a render made for a cohort is sent
only if the GET that made it names that cohort for the credentials it ran with,
and only to members whose rights are not changing (a `rights-changing` record,
heard before any render is shared: the reader looks ahead for one whenever the
counter beside the history moved). Anyone else is shown the change by a render
of its own. Once a rights change commits (`rights-changed`), that identity's
subscribers are told to refetch; subscribing again puts them in their cohort.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from redis.exceptions import RedisError

from live import metrics
from live.contract import COHORT_HEADER, REVOKED, RIGHTS_CHANGED, RIGHTS_CHANGING
from wsserver.credentials import (
    REFETCH,
    Credentials,
    CredentialsEnded,
    RenderFailed,
    cohort_of,
    frames_for,
)
from wsserver.history import START, Entry, History, Position, StreamId
from wsserver.protocol import encode
from wsserver.reader import HistoryReader
from wsserver.renders import RenderCache, Rendered
from wsserver.sending import Frame
from wsserver.subscriptions import (
    Subscriber,
    Subscription,
    SubscriptionRegistry,
    subscription_key,
)

log = logging.getLogger(__name__)

EXPIRED = "Token expired: subscribe again with a new one."
REVOKED_DETAIL = "Signed out, password changed or deactivated: sign in again."


# The GET of a changed resource as some credentials see it; `replay`: for one
# subscriber catching up (throttled as its own request).
Render = Callable[..., Awaitable[dict]]


class EventFanout:
    """The subscriptions of this process and the history reader feeding them."""

    def __init__(
        self,
        *,
        history: History,
        render: Render,
        grace_seconds: float,
        render_cache_bytes: int = 32 * 1024 * 1024,
        replays_at_once: int = 1,
    ):
        self.history = history
        self.render = render
        self.grace_seconds = grace_seconds
        self.renders = RenderCache(max_bytes=render_cache_bytes)
        self.replays = asyncio.Semaphore(replays_at_once)
        self.registry = SubscriptionRegistry()
        self.reader = HistoryReader(history, deliver=self.deliver, resync=self.resync)
        self.rendered = 0  # renders of live changes so far, to count per change
        # The last `rights-changing` heard per identity: its subscriptions made
        # from before it are rendered alone.
        self.regrouped: dict[str, StreamId] = {}
        # Regroupings so far: a shared render's members are re-keyed only if
        # this moved since they were grouped.
        self.regroupings = 0
        self.rights_count: int | None = None  # the counter when last looked at

    async def position(self) -> Position:
        """A position at or before every change committed so far: the last one
        this process read (for a snapshot about to be read; nothing committed
        before the snapshot can come after it unheard)."""
        return await self.reader.position()

    async def subscribe(
        self,
        subscriber: Subscriber,
        url: str,
        credentials: Credentials,
        *,
        after: Position,
        most: int | None = None,
    ) -> Subscription | None:
        """Listen to `url` from `after` on, in place of any subscription to it;
        `None` if the history no longer holds everything since, or holds more
        than `most` changes since (the caller sends a snapshot instead). It
        hears nothing until `catch_up` has run."""
        now = await self.reader.position()
        if after.epoch != now.epoch:
            return None
        # What comes after the reader's cursor, the reader delivers; only a
        # position behind it needs the history to hold what is between (so a
        # burst of fresh subscriptions reads nothing from Redis).
        if after.id < now.id and not await self.history.reaches_back_to(after.id):
            return None
        self.unsubscribe(subscriber, url)
        if self.rights_changed_since(credentials.identity, after.id):
            credentials = replace(credentials, cohort=None)
        subscription = Subscription(subscriber, url, after.id, credentials)
        self.registry.add(subscription)
        metrics.subscriptions.inc()
        # Read with the subscription in place: what the reader reads meanwhile
        # waits in its backlog (repeats are dropped by position).
        try:
            missed = []
            if after.id < self.reader.cursor:
                missed = await self.history.between(
                    after.id, self.reader.cursor, now.epoch, most=most
                )
        except RedisError:  # never left behind to wait for a catch-up
            if self.current(subscription):
                self._discard(subscriber, subscription.key)
            raise
        if missed is None:
            if self.current(subscription):
                self._discard(subscriber, subscription.key)
            return None
        subscription.backlog[:0] = missed
        if credentials.expires is not None and self.current(subscription):
            delay = credentials.expires + self.grace_seconds - time.time()
            loop = asyncio.get_running_loop()
            subscription.expiry = loop.call_later(
                max(delay, 0), self.end, subscription, EXPIRED
            )
        return subscription

    def rights_changed_since(self, identity: str, entry_id: StreamId) -> bool:
        """Whether `identity`'s rights changed after `entry_id` (as heard here)."""
        return self.regrouped.get(identity, START) > entry_id

    def current(self, subscription: Subscription) -> bool:
        return self.registry.holds(subscription)

    def subscription_of(self, subscriber: Subscriber, url: str) -> Subscription | None:
        return self.registry.get(subscriber, subscription_key(url))

    def subscription_count(self, subscriber: Subscriber) -> int:
        return len(self.registry.keys_of(subscriber))

    def subscribed(self, subscriber: Subscriber) -> bool:
        """Whether `subscriber` listens to anything."""
        return subscriber in self.registry

    async def catch_up(self, subscription: Subscription) -> None:
        """Replay what `subscription` missed and what came while that was sent,
        in order; from then on it is live. A change that cannot be replayed
        (over the subscriber's throttle, say) asks it to refetch, once."""
        replaying = True
        while self.current(subscription) and subscription.backlog:
            queue, subscription.backlog = subscription.backlog, []
            for entry in queue:
                heard = entry.id <= subscription.heard_up_to
                if heard or not subscription.hears(entry):
                    continue
                subscription.heard_up_to = entry.id
                if replaying:
                    key = subscription.credentials.render_key(entry)
                    replaying = await self._show(
                        entry, key, [subscription], replay=True
                    )
        subscription.backlog = None

    def unsubscribe(self, subscriber: Subscriber, url: str) -> bool:
        """Stop `subscriber` hearing `url`; return `False` if it was not subscribed."""
        key = subscription_key(url)
        if self.registry.get(subscriber, key) is None:
            return False
        self._discard(subscriber, key)
        return True

    def unsubscribe_all(self, subscriber: Subscriber) -> None:
        for key in self.registry.keys_of(subscriber):
            self._discard(subscriber, key)

    def _discard(self, subscriber: Subscriber, key: tuple[str, str]) -> None:
        subscription = self.registry.remove(subscriber, key)
        metrics.subscriptions.dec()
        if subscription.expiry is not None:
            subscription.expiry.cancel()

    def end(self, subscription: Subscription, detail: str) -> None:
        """End `subscription`: its credentials no longer hold."""
        if not self.current(subscription):
            return
        self._discard(subscription.subscriber, subscription.key)
        event = {"event": "unsubscribed", "url": subscription.path, "status": 401}
        text = encode({**event, "data": {"detail": detail}})
        subscription.subscriber.send_text(_named(text, subscription))

    def revoke(self, identity: str, session: str | None = None) -> None:
        """End the subscriptions of `identity` (made in `session`, if given)."""
        for subscription in self.registry.of_identity(identity):
            if session is None or subscription.credentials.session == session:
                self.end(subscription, REVOKED_DETAIL)

    def regroup(self, entry: Entry) -> None:
        """The rights of `entry`'s identity are changing: from now on it shares
        no render (until it subscribes again, after `refetch`)."""
        identity = entry.record["identity"]
        self.regrouped[identity] = max(self.regrouped.get(identity, START), entry.id)
        self.regroupings += 1
        for subscription in self.registry.of_identity(identity):
            credentials = subscription.credentials
            subscription.credentials = replace(credentials, cohort=None)

    def refetch(self, identity: str) -> None:
        """The rights of `identity` changed: what its GETs show may have too."""
        for subscription in self.registry.of_identity(identity):
            subscription.subscriber.send_text(_resync(subscription))

    async def deliver(self, entry: Entry) -> None:
        """Show one change to every subscriber that hears it, once each, rendered
        once per render key; or act on it if it is no change (a revocation, a
        rights change, a resync)."""
        if entry.event == REVOKED:
            return self.revoke(entry.record["identity"], entry.record.get("session"))
        if entry.event == RIGHTS_CHANGING:
            return self.regroup(entry)
        if entry.event == RIGHTS_CHANGED:
            return self.refetch(entry.record["identity"])
        if entry.url is None:  # a change that could not be recorded: refetch
            return self.resync()
        self.renders.change_read(entry)
        groups: dict[str, list[Subscription]] = {}  # by render key
        grouped_at = self.regroupings
        for subscription in self.registry.hearing(entry):
            key = subscription.credentials.render_key(entry)
            groups.setdefault(key, []).append(subscription)
        rendered = self.rendered
        await asyncio.gather(
            *(
                self._show(entry, key, group, grouped_at=grouped_at)
                for key, group in groups.items()
            )
        )
        metrics.renders_per_change.observe(self.rendered - rendered)
        if groups:
            metrics.fanout_lag.observe(max(0.0, time.time() - entry.committed_at))

    async def _show(
        self,
        entry: Entry,
        key: str,
        group: list[Subscription],
        *,
        replay: bool = False,
        grouped_at: int | None = None,
    ) -> bool:
        """Send `entry`, rendered once for the render key `key` (a cohort's or
        one identity's) and the filtered lists of the group's queries, to each
        of `group` (grouped when `regroupings` was `grouped_at`); `False` if it
        could not be shown (each was asked to refetch)."""
        queries = tuple(sorted({s.query for s in group if s.query}))
        while group:
            # Any member's credentials will do; the longest-lived are least
            # likely to have ended (the anonymous never do).
            freshest = max(group, key=lambda s: s.credentials.expires or float("inf"))
            credentials = freshest.credentials
            render = partial(self._render, entry, credentials, replay, queries)
            try:
                rendered = await self.renders.share(entry, (key, queries), render)
                kept_as = (key, queries)
                apart = await self._apart(entry, kept_as, group, rendered, grouped_at)
            except CredentialsEnded as ended:
                group = self._end_identity(group, ended)
                continue
            except Exception as error:  # deliberately broad: never lose one silently
                if not isinstance(error, RenderFailed):
                    log.exception("Could not show %s %s", entry.event, entry.url)
                detail = (entry.event, entry.url, error)
                log.warning("Could not show %s %s (%s); refetch asked", *detail)
                for subscription in group:
                    subscription.subscriber.send_text(_resync(subscription))
                return False
            shown = await self._show_apart(entry, apart, replay=replay)
            apart = set(apart)
            named: dict[str, Frame] = {}  # by filtered subscription URL
            for subscription in group:
                if subscription not in apart and self.current(subscription):
                    frame = rendered.frames[subscription.query]
                    _send(subscription, frame, named)
            return shown
        return True

    async def _apart(
        self,
        entry: Entry,
        kept_as: tuple[str, tuple[str, ...]],
        group: list[Subscription],
        rendered: Rendered,
        grouped_at: int | None,
    ) -> list[Subscription]:
        """The members of `group` that may not share `rendered` (kept as
        `kept_as`: its render key and queries): all of them if it was made for a
        cohort its GET did not name, else those whose rights are changing."""
        key, _queries = kept_as
        cohort = cohort_of(key)
        if cohort is None:
            return []
        if rendered.cohort != cohort:
            self.renders.forget(entry, kept_as)
            metrics.unshared_renders.labels("cohort").inc(len(group))
            log.info("A render for %s named %s: not shared", cohort, rendered.cohort)
            return group
        await self._hear_rights_changes()
        if grouped_at == self.regroupings:  # no one's render key changed since
            return []
        apart = [s for s in group if s.credentials.render_key(entry) != key]
        if apart:
            metrics.unshared_renders.labels("rights").inc(len(apart))
        return apart

    async def _show_apart(
        self, entry: Entry, apart: list[Subscription], *, replay: bool
    ) -> bool:
        """Show `entry` to each of `apart` as its identity sees it."""
        by_identity: dict[str, list[Subscription]] = {}
        for subscription in apart:
            identity = subscription.credentials.identity
            by_identity.setdefault(identity, []).append(subscription)
        shown = await asyncio.gather(
            *(
                self._show(entry, identity, group, replay=replay)
                for identity, group in by_identity.items()
            )
        )
        return all(shown)

    async def _hear_rights_changes(self) -> None:
        """Regroup every identity whose rights began changing before now, ahead
        of the reader if need be: a render made since may show what it may no
        longer see. One Redis read, and a look ahead when the counter moved."""
        count = await self.history.rights_count()
        if count == self.rights_count:
            return
        reader = self.reader
        for entry in await self.history.after(reader.cursor, reader.epoch):
            if entry.event == RIGHTS_CHANGING:
                self.regroup(entry)
        self.rights_count = count

    async def _render(
        self,
        entry: Entry,
        credentials: Credentials,
        replay: bool,
        queries: tuple[str, ...],
    ) -> Rendered:
        """The frames `entry` comes to for `credentials`, by query (`""`: no
        filter), and the cohort its GET named."""
        # Replays take turns, so requests keep Django's other threads.
        if not replay:
            self.rendered += 1
        async with self.replays if replay else contextlib.nullcontext():
            answer = await self.render(
                entry, credentials, queries=queries, replay=replay
            )
        identity = credentials.identity
        frames = frames_for(entry, answer, identity=identity, queries=queries)
        return Rendered(frames, answer["headers"].get(COHORT_HEADER))

    def _end_identity(
        self, group: list[Subscription], ended: CredentialsEnded
    ) -> list[Subscription]:
        """End the subscriptions in `group` of the identity whose credentials
        ended; return the others."""
        for subscription in group:
            if subscription.credentials.identity == ended.identity:
                self.end(subscription, ended.detail)
        return [s for s in group if s.credentials.identity != ended.identity]

    def resync(self) -> None:
        """Tell every subscription that changes were lost: fetch again."""
        for subscription in self.registry.all():
            subscription.subscriber.send_text(_resync(subscription))


def _resync(subscription: Subscription) -> Frame:
    return _named(
        Frame(encode({"event": "resync", "url": subscription.path})), subscription
    )


def _send(
    subscription: Subscription, frame: Frame | None, named: dict[str, Frame]
) -> None:
    """Send a render's frame for `subscription`'s query (named, if filtered:
    once per distinct URL in `named`, shared by its subscribers)."""
    if frame == REFETCH:
        subscription.subscriber.send_text(_resync(subscription))
    elif frame is not None and not subscription.query:
        subscription.subscriber.send_text(frame)
    elif frame is not None:
        if subscription.url not in named:
            named[subscription.url] = _named(frame, subscription)
        subscription.subscriber.send_text(named[subscription.url])


def _named(text: str, subscription: Subscription) -> Frame:
    """An event's frame, naming the filtered subscription it is for (a JSON
    object's last member, added to the text as it is)."""
    if not subscription.query:
        return Frame(text)
    return Frame(
        f"{text[:-1]},{json.dumps('subscription')}:{json.dumps(subscription.url)}}}"
    )
