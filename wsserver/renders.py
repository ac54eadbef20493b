"""
Renders of changes, kept to be shared: the frames a change comes to for one
render key (a cohort's or one identity's), one for its subscribers without a
query and one for each filtered list asked about (`None`: nothing to send),
made once and sent to every subscriber of that key, live or catching up (every
socket resumes at once after a deploy).

Bounded in bytes (`WS_RENDER_CACHE_BYTES`), the oldest dropped first: a render
dropped is made again when asked for, never lost. A render is kept only while it
shows its resource as it is now: when a later change to the same URL is read,
the renders of earlier ones are dropped, so a replay re-reads what the reader
may see now (a resource made private since shows as `deleted`, never its content).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from wsserver.history import Entry, StreamId

# What a kept render costs besides its text: the key, the future, the indexes.
OVERHEAD_BYTES = 400
# A frame keeps, beside its text, the bytes each transport sends (a WebSocket
# frame, an event-stream record, that record as an HTTP chunk): each about as
# long as the text (wsserver/sending.py).
COPIES_PER_FRAME = 4

# (the change's id, (the render key it was made for, the filtered lists' queries))
Key = tuple[StreamId, tuple[str, tuple[str, ...]]]


class Rendered(NamedTuple):
    """A change rendered for one render key: the frame to send for each query
    (`""`: no filter; `None`: nothing to send) and the cohort the GET that made
    it named for its credentials (`None`: none)."""

    frames: dict[str, str | None]
    cohort: str | None


class RenderCache:
    """Shared renders of changes, at most `max_bytes` of them."""

    def __init__(self, *, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._rendering: dict[Key, asyncio.Future] = {}
        self._kept: OrderedDict[Key, asyncio.Future] = OrderedDict()
        self._sizes: dict[Key, int] = {}
        self._urls: dict[Key, str] = {}
        self._keys_by_url: dict[str, set[Key]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def share(
        self,
        entry: Entry,
        render_key: tuple[str, tuple[str, ...]],
        render: Callable[[], Awaitable[Rendered]],
    ) -> asyncio.Future:
        """The render of `entry` for `render_key`: the one kept or under way,
        else `render()`, started now and kept once it succeeds."""
        key = (entry.id, render_key)
        future = self._rendering.get(key) or self._kept.get(key)
        if future is None:
            future = asyncio.ensure_future(render())
            self._rendering[key] = future
            self._urls[key] = entry.url
            self._keys_by_url.setdefault(entry.url, set()).add(key)
            future.add_done_callback(lambda done: self._done(key, done))
        return future

    def forget(self, entry: Entry, render_key: tuple[str, tuple[str, ...]]) -> None:
        """Drop the render of `entry` for `render_key`: it may not be shared."""
        if (entry.id, render_key) in self._urls:
            self._drop((entry.id, render_key))

    def change_read(self, entry: Entry) -> None:
        """`entry` changed its resource: earlier changes' renders show it no more."""
        keys = self._keys_by_url.get(entry.url, ())
        for key in [key for key in keys if key[0] < entry.id]:
            self._drop(key)

    def _done(self, key: Key, future: asyncio.Future) -> None:
        if self._rendering.get(key) is not future:
            return  # dropped while it was made
        if future.cancelled() or future.exception() is not None:
            return self._drop(key)  # made again when next asked for
        del self._rendering[key]
        self._kept[key] = future
        frames = future.result().frames.values()
        text = sum(map(len, filter(None, frames)))
        self._sizes[key] = text * COPIES_PER_FRAME + OVERHEAD_BYTES
        self.bytes += self._sizes[key]
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._kept)))

    def _drop(self, key: Key) -> None:
        self._rendering.pop(key, None)
        if self._kept.pop(key, None) is not None:
            self.bytes -= self._sizes.pop(key)
        url = self._urls.pop(key)
        keys = self._keys_by_url[url]
        keys.discard(key)
        if not keys:
            del self._keys_by_url[url]
