"""
Event fan-out: one Redis subscription per process, delivered to the subscribers
of a URL at or above the event's URL.

App-agnostic: an event is `{"event", "url", "data"}` on one Redis channel; a
subscription to `/api/snippets/` hears `/api/snippets/12/`, and a subscription to
`/api/snippets/12/` hears only that resource. static/js/client.js matches event
URLs by the same rule (`hears`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Protocol
from urllib.parse import unquote, urlsplit

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
RESYNC = json.dumps({"event": "resync"})


class Subscriber(Protocol):
    """Anything that takes serialized frames: a WebSocket handler, in practice."""

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


def event_url(text: str | bytes) -> str | None:
    """The URL of a published event, or `None` if `text` is not one: a JSON
    object with a string `event` and a site-relative `url`."""
    try:
        event = json.loads(text)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    url = event.get("url")
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return None
    return url


class EventFanout:
    """The subscriptions of this process and the Redis listener that feeds them.

    It owns both indexes (path -> subscribers, subscriber -> paths); nothing else
    keeps track of who listens to what.
    """

    def __init__(self, *, redis_url: str, channel: str, redis_options: dict):
        self.redis_url = redis_url
        self.channel = channel
        self.redis_options = redis_options
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.paths: dict[Subscriber, set[str]] = defaultdict(set)
        self._listener: asyncio.Task | None = None

    def subscribe(self, subscriber: Subscriber, url: str) -> None:
        path = subscription_path(url)
        self.subscribers[path].add(subscriber)
        self.paths[subscriber].add(path)
        if self._listener is None:
            self._listener = asyncio.ensure_future(self._listen_forever())

    def unsubscribe(self, subscriber: Subscriber, url: str) -> bool:
        """Stop `subscriber` hearing `url`; return `False` if it was not subscribed."""
        path = subscription_path(url)
        paths = self.paths.get(subscriber, set())
        if path not in paths:
            return False
        paths.discard(path)
        if not paths:
            del self.paths[subscriber]
        self._discard(subscriber, path)
        return True

    def unsubscribe_all(self, subscriber: Subscriber) -> None:
        for path in self.paths.pop(subscriber, ()):
            self._discard(subscriber, path)

    def _discard(self, subscriber: Subscriber, path: str) -> None:
        subscribers = self.subscribers.get(path)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self.subscribers[path]

    def deliver(self, text: str | bytes) -> None:
        """Send one published event to every subscriber that hears it, once each.

        Anything can publish on the channel (Redis is shared by design): what is
        not an event is logged and skipped, never trusted.
        """
        url = event_url(text)
        if url is None:
            log.warning("Ignoring a malformed event: %.80r", text)
            return
        if isinstance(text, bytes):
            text = text.decode()
        subscribers = set()
        for path in ancestor_paths(url):
            subscribers.update(self.subscribers.get(path, ()))
        for subscriber in subscribers:
            subscriber.send_text(text)

    def resync(self) -> None:
        """Tell every subscriber that events may have been missed."""
        for subscriber in list(self.paths):
            subscriber.send_text(RESYNC)

    async def _relay(self, pubsub) -> None:
        """Deliver what the channel carries. A link silent for a whole timeout is
        pinged, and one that does not answer by the next is taken for dead: a
        half-open connection would otherwise keep every subscriber waiting for
        events that never come, and nothing would say so."""
        timeout = self.redis_options.get("socket_timeout") or RECONNECT_MAX_SECONDS
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=timeout)
            if message is not None:
                pinged = False
                if message["type"] == "message":
                    self.deliver(message["data"])
            elif pinged:
                raise RedisConnectionError(f"no answer to a PING in {timeout}s")
            else:
                await pubsub.ping()
                pinged = True

    async def _listen_forever(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        first = True
        while True:
            client = redis.Redis.from_url(self.redis_url, **self.redis_options)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    if not first:
                        log.info(
                            "Event subscription restored; asking clients to resync"
                        )
                        self.resync()
                    first = False
                    delay = RECONNECT_MIN_SECONDS
                    await self._relay(pubsub)
            except (RedisError, OSError) as exc:
                first = False
                log.warning(
                    "Event subscription lost (%s); retrying in %.1fs", exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                await client.aclose()
