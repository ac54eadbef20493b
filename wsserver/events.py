"""
Event fan-out: one Redis subscription per process, delivered to the connections
that subscribed to a URL at or above the event's URL.

App-agnostic: an event is `{"event", "url", "data"}` on one Redis channel; a
subscription to `/api/snippets/` hears `/api/snippets/12/`, and a subscription to
`/api/snippets/12/` hears only that resource.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger("wsserver.events")

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0
RESYNC = json.dumps({"event": "resync"})


def subscription_path(url: str) -> str:
    """The path a subscription listens under, always ending in `/`."""
    path = urlsplit(url).path
    return path if path.endswith("/") else path + "/"


def ancestor_paths(url: str) -> list[str]:
    """`/a/b/` -> `["/a/b/", "/a/", "/"]`: every subscription path that hears it."""
    path = subscription_path(url)
    paths = [path]
    while path != "/":
        path = path[: path.rstrip("/").rfind("/") + 1]
        paths.append(path)
    return paths


class EventFanout:
    """Subscriptions of this process and the Redis listener that feeds them."""

    def __init__(self, *, redis_url: str, channel: str):
        self.redis_url = redis_url
        self.channel = channel
        self.subscribers: dict[str, set] = defaultdict(set)
        self._listener: asyncio.Task | None = None
        # Set once the Redis subscription is live (tests and drain wait on it).
        self.listening = asyncio.Event()

    def subscribe(self, handler, url: str) -> None:
        path = subscription_path(url)
        self.subscribers[path].add(handler)
        handler.subscriptions.add(path)
        if self._listener is None:
            self._listener = asyncio.ensure_future(self._listen_forever())

    def unsubscribe(self, handler, url: str) -> bool:
        """Stop `handler` hearing `url`; return `False` if it was not subscribed."""
        path = subscription_path(url)
        if path not in handler.subscriptions:
            return False
        handler.subscriptions.discard(path)
        self._discard(handler, path)
        return True

    def unsubscribe_all(self, handler) -> None:
        for path in handler.subscriptions:
            self._discard(handler, path)
        handler.subscriptions.clear()

    def _discard(self, handler, path: str) -> None:
        handlers = self.subscribers.get(path)
        if handlers is not None:
            handlers.discard(handler)
            if not handlers:
                del self.subscribers[path]

    def deliver(self, text: str) -> int:
        """Send one published event to every connection that hears it, once each."""
        try:
            url = json.loads(text)["url"]
        except (ValueError, KeyError, TypeError):
            log.warning("Ignoring malformed event")
            return 0
        handlers = set()
        for path in ancestor_paths(url):
            handlers.update(self.subscribers.get(path, ()))
        for handler in handlers:
            handler.send_text(text)
        return len(handlers)

    def resync(self) -> None:
        """Tell every subscriber that events may have been missed."""
        handlers = set().union(*self.subscribers.values())
        for handler in handlers:
            handler.send_text(RESYNC)

    async def _listen_forever(self) -> None:
        delay = RECONNECT_MIN_SECONDS
        first = True
        while True:
            client = redis.Redis.from_url(self.redis_url)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.listening.set()
                    if not first:
                        log.info(
                            "Event subscription restored; asking clients to resync"
                        )
                        self.resync()
                    first = False
                    delay = RECONNECT_MIN_SECONDS
                    async for message in pubsub.listen():
                        data = message["data"]
                        self.deliver(data.decode() if isinstance(data, bytes) else data)
            except (RedisError, OSError) as exc:
                self.listening.clear()
                first = False
                log.warning(
                    "Event subscription lost (%s); retrying in %.1fs", exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                await client.aclose()
