"""One process's live side (`LiveProcess`): its open sockets and streams, the hop
onto Django's threads, the fan-out they share, and the drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import Executor
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from tornado.httputil import HTTPServerRequest

from live import metrics
from live.contract import SUBSCRIBE_MARK
from live.limits import ServerConfig
from wsserver import handshake
from wsserver.bridge import Bridge, Peer, is_json
from wsserver.credentials import render, take_credentials
from wsserver.events import EventFanout
from wsserver.history import History, Position
from wsserver.protocol import Message, reply
from wsserver.subscriptions import Subscriber, Subscription
from wsserver.threads import DjangoThreads

if TYPE_CHECKING:
    from wsserver.handlers import ApiSocketHandler
    from wsserver.sse import EventStreamHandler

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001


def open_gauge(handler: ApiSocketHandler | EventStreamHandler):
    if handler.transport == "events":
        return metrics.event_streams_open
    return metrics.websockets_open


class LiveProcess:
    """The connections of one process, and the bridge, threads and fan-out they
    share. Requests of both transports wait for Django's threads in one bounded
    queue, counted here (on the IOLoop), so a drain waits for all of them."""

    def __init__(
        self,
        *,
        bridge: Bridge,
        executor: Executor,
        history: History,
        config: ServerConfig,
    ):
        self.executor = executor
        self.django = DjangoThreads(bridge=bridge, executor=executor)
        self.fanout = EventFanout(
            history=history,
            # Renders are no request of a client's: not counted in the queue (a
            # replay is counted by the catch-up it is part of).
            render=partial(render, self.django),
            grace_seconds=config.token_grace_seconds,
            render_cache_bytes=config.render_cache_bytes,
            # Replays leave at least half of Django's threads to requests.
            replays_at_once=max(1, config.threads // 2),
        )
        self.config = config
        self.capacity = config.threads + config.max_queued_requests
        self.connections: set[ApiSocketHandler | EventStreamHandler] = set()
        # SUBSCRIBEs being answered, per subscriber: a burst counts in full
        # against `WS_MAX_SUBSCRIPTIONS`.
        self.subscribing: dict[Subscriber, int] = {}
        # Messages being answered (asyncio keeps only weak references to tasks).
        self.tasks: set[asyncio.Task] = set()
        self.draining = False
        self.in_django = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def full(self) -> bool:
        """Every thread busy and the queue behind them full: refuse with 503."""
        return self.in_django >= self.capacity

    def enter(self, transport: str) -> None:
        """A request of `transport` waits for, or runs on, a Django thread."""
        self.in_django += 1
        self._idle.clear()
        metrics.requests_in_django.labels(transport).inc()
        self._count_queued()

    def leave(self, transport: str) -> None:
        self.in_django -= 1
        if not self.in_django:
            self._idle.set()
        metrics.requests_in_django.labels(transport).dec()
        self._count_queued()

    def _count_queued(self) -> None:
        metrics.requests_queued.set(max(0, self.in_django - self.config.threads))

    def keep(self, task: asyncio.Task) -> None:
        """Hold `task` until it is done."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def add(self, handler: ApiSocketHandler | EventStreamHandler) -> None:
        self.connections.add(handler)
        metrics.connections_opened.labels(handler.transport).inc()
        open_gauge(handler).inc()

    def remove(self, handler: ApiSocketHandler | EventStreamHandler) -> None:
        if handler in self.connections:
            self.connections.discard(handler)
            open_gauge(handler).dec()
        self.fanout.unsubscribe_all(handler)

    def refusal(self, request: HTTPServerRequest, address: str) -> tuple | None:
        """`(status, detail)` if a new socket or stream from `address` is refused."""
        limit = self.config.max_connections_per_address
        if not handshake.host_allowed(request):
            return 400, "Host not allowed."
        if handshake.plain_refused(request, num_proxies=self.config.num_proxies):
            return 403, "This site is HTTPS only: connect with wss:// (or https://)."
        if self.draining:
            metrics.refusals.labels("draining").inc()
            return 503, "Server is shutting down; reconnect shortly."
        if len(self.connections) >= self.config.max_connections:
            metrics.refusals.labels("connections").inc()
            return 503, "Too many connections here; retry later."
        if sum(other.address == address for other in self.connections) >= limit:
            metrics.refusals.labels("per_address").inc()
            return 429, f"At most {limit} connections per address."
        return None

    async def call_bridge(self, message: Message, peer: Peer) -> dict:
        """Answer `message` on a Django thread: Django never runs on the IOLoop."""
        self.enter(peer.transport)
        try:
            return await self.django(message, peer)
        finally:
            self.leave(peer.transport)

    async def subscribe(
        self, subscriber: Subscriber, message: Message, peer: Peer, *, limit: int
    ) -> tuple[dict, Subscription | None]:
        """SUBSCRIBE: a GET through the bridge (so authentication, permissions and
        throttles decide); a JSON resource answered 2xx is then heard from the
        position taken before the GET read it, or from `since` if the history
        still reaches back to it. Returns the reply and the subscription, which
        is to be caught up once the reply is sent."""
        refuse = partial(reply, **message.echo)
        renewal = self.fanout.subscription_of(subscriber, message.url)
        held = self.fanout.subscription_count(subscriber)
        if not renewal and held + self.subscribing.get(subscriber, 0) >= limit:
            metrics.refusals.labels("subscriptions").inc()
            return refuse(status=429, detail=f"At most {limit} subscriptions."), None
        since = None if message.since is None else Position.parse(message.since)
        if message.since is not None and since is None:
            return refuse(status=400, detail="'since' is not a position here."), None
        self.enter(peer.transport)  # a drain waits for all of it, not only the GET
        self.subscribing[subscriber] = self.subscribing.get(subscriber, 0) + 1
        try:
            return await self._subscribe(subscriber, message, peer, since)
        except RedisError as error:  # Redis down, or its connections all busy
            metrics.redis_errors.labels("history").inc()
            log.warning("SUBSCRIBE %s: history unreadable (%s)", message.url, error)
            detail = "Live updates are unavailable for now; retry shortly."
            return refuse(status=503, detail=detail, retry_after=1), None
        finally:
            self.leave(peer.transport)
            self.subscribing[subscriber] -= 1
            if not self.subscribing[subscriber]:
                del self.subscribing[subscriber]

    async def _subscribe(
        self, subscriber: Subscriber, message: Message, peer: Peer, since
    ) -> tuple[dict, Subscription | None]:
        refuse = partial(reply, **message.echo)
        snapshot_at = await self.fanout.position()
        get = replace(message, method="GET", since=None)
        answer = {
            **await self.django(get, peer, {SUBSCRIBE_MARK: True}),
            **message.echo,
        }
        credentials = take_credentials(answer, get, peer)
        if not 200 <= answer["status"] < 300:
            return answer, None
        if not is_json(answer["headers"].get("Content-Type", "")):
            detail = "Only JSON resources can be subscribed; this one is not."
            return refuse(status=400, detail=detail), None
        if subscriber not in self.connections:  # closed while the GET ran
            return answer, None
        previous = self.fanout.subscription_of(subscriber, message.url)
        if previous and previous.credentials.identity != credentials.identity:
            since = None  # another identity sees other things: a new snapshot
        if since and self.fanout.rights_changed_since(credentials.identity, since.id):
            since = None  # what it may see changed since: a new snapshot too
        resumed = since and await self.fanout.subscribe(
            subscriber,
            message.url,
            credentials,
            after=since,
            most=self.config.resume_max_changes,
        )
        if resumed:
            answer.pop("data", None)
            return {**answer, "recovered": True, "position": str(since)}, resumed
        subscription = await self.fanout.subscribe(
            subscriber, message.url, credentials, after=snapshot_at
        )
        recovered = {"recovered": False} if since else {}
        return {**answer, **recovered, "position": str(snapshot_at)}, subscription

    def unsubscribe(self, subscriber: Subscriber, url: str) -> bool:
        """UNSUBSCRIBE: `False` if `subscriber` was not subscribed to `url`."""
        return self.fanout.unsubscribe(subscriber, url)

    async def catch_up(self, subscription: Subscription) -> None:
        """Replay what `subscription` missed (once its reply is sent). It holds a
        place in the queue meanwhile, so a flood of resumes fills it and is
        answered 503, rather than making everyone's requests wait."""
        transport = subscription.credentials.peer.transport
        self.enter(transport)
        try:
            await self.fanout.catch_up(subscription)
        finally:
            self.leave(transport)

    def keep_alive(self) -> None:
        """Every `WS_PING_INTERVAL_SECONDS`, for every connection at once: a ping
        to each socket (one that left the last ping unanswered is closed), a
        comment to each event stream. One timer for the process costs less than
        the task per socket that Tornado's own pings keep (about 1 KiB each)."""
        for connection in list(self.connections):
            connection.keep_alive()

    def close_idle(self, *, idle_seconds: float) -> None:
        """Close sockets that sent nothing and subscribed to nothing for so long."""
        since = time.monotonic() - idle_seconds
        for handler in list(self.connections):
            if handler.last_frame_at < since and not self.fanout.subscribed(handler):
                metrics.refusals.labels("idle").inc()
                handler.close(CLOSE_GOING_AWAY, "Idle for too long.")

    async def until_idle(self, *, timeout: float) -> None:
        """Return once no request of either transport is in Django (or after
        `timeout`), at a moment when none is: the caller may act on it before
        its next `await`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.in_django and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), deadline - loop.time())

    async def drain(self, *, timeout: float) -> None:
        """Refuse new requests, let those in flight reply (over either transport),
        then close every socket with 1001."""
        self.draining = True
        metrics.drains.inc()
        if self.in_django:
            log.info("Draining: %d requests in flight", self.in_django)
            await self.until_idle(timeout=timeout)
            if self.in_django:
                log.warning("Drain timed out after %ss", timeout)
        for handler in list(self.connections):
            handler.close(CLOSE_GOING_AWAY, "Server is shutting down.")
        # Give the close frames a moment to leave before the loop stops.
        await asyncio.sleep(0.1)
