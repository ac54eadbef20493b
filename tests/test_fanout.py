"""The fan-out on its own: who hears which change, in what order, and what is
not a change at all. No Redis: changes are handed in directly."""

import asyncio
import json

import pytest

from wsserver.events import EventFanout, Subscription, subscription_path
from wsserver.history import Entry, Position, _entry


class Recorder:
    """A subscriber that keeps what it is sent."""

    def __init__(self):
        self.frames = []

    def send_text(self, text):
        self.frames.append(json.loads(text))

    @property
    def urls(self):
        return [frame["url"] for frame in self.frames]


def change(number, url):
    """The `number`th change, to `url`, as the history reader hands it over."""
    return _entry((f"{number}-0".encode(), {b"event": event(url)}), "e")


def event(url):
    return json.dumps({"event": "updated", "url": url, "data": {}})


NOT_CHANGES = [
    b"\xff\xfe not UTF-8",
    "not JSON",
    "[]",
    '{"url": 5}',
    '{"event": "x", "url": "x"}',
    '{"event": "x", "url": "//evil.example/"}',
    '{"event": 5, "url": "/api/"}',
    '{"event": "x"}',
]


@pytest.mark.parametrize("text", NOT_CHANGES)
def test_what_is_not_a_change_is_skipped(text):
    """Anything written to the history that is not a change is left out."""
    assert _entry((b"1-0", {b"event": text}), "e") is None
    assert _entry((b"1-0", {b"other": b"field"}), "e") is None


def test_every_change_carries_its_position():
    """The position is the history's epoch and the entry's id."""
    entry = change(7, "/api/snippets/1/")
    assert json.loads(entry.text)["position"] == "e:7-0"
    assert Position.parse("e:7-0") == Position("e", (7, 0))
    assert [Position.parse(text) for text in ["", "e", "e:x", ":1-0", "e:1"]] == [
        None
    ] * 5


def fanout_with(*urls):
    """A fan-out with one live subscriber per URL in `urls`."""
    fanout = EventFanout(history=None)
    recorders = []
    for url in urls:
        recorders.append(Recorder())
        subscription = Subscription(recorders[-1], subscription_path(url), (0, 0), None)
        fanout.subscriptions.setdefault(subscription.path, {})[recorders[-1]] = (
            subscription
        )
        fanout.paths.setdefault(recorders[-1], set()).add(subscription.path)
    return fanout, recorders


def test_subscriptions_hear_their_resource_and_what_is_below_it():
    """A list hears its items; an item hears only itself; paths match decoded."""
    fanout, [listing, one, encoded, other] = fanout_with(
        "/api/snippets/", "/api/snippets/1", "/api/snippets/%31/", "/api/users/"
    )
    fanout.deliver(change(1, "/api/snippets/1/"))
    fanout.deliver(change(2, "/api/snippets/12/"))
    assert listing.urls == ["/api/snippets/1/", "/api/snippets/12/"]
    assert one.urls == encoded.urls == ["/api/snippets/1/"]
    assert other.frames == []


def test_a_change_is_heard_once_and_never_again():
    """Subscribed to a list and to an item in it, a connection hears a change
    once; a change handed over twice is sent once."""
    fanout, [recorder] = fanout_with("/api/snippets/")
    subscription = Subscription(recorder, "/api/snippets/1/", (0, 0), None)
    fanout.subscriptions["/api/snippets/1/"] = {recorder: subscription}
    fanout.deliver(change(1, "/api/snippets/1/"))
    fanout.deliver(change(1, "/api/snippets/1/"))
    assert len(recorder.frames) == 1


class History:
    """The history, as far as catching up reads it."""

    def __init__(self, entries):
        self.entries = entries

    async def between(self, after, upto, epoch):
        return [e for e in self.entries if after < e.id <= upto]


def test_catching_up_sends_missed_changes_then_waiting_ones_in_order():
    """What the reader passed before a subscription began comes first, then what
    arrived while that was read, each once, in order."""
    missed = [change(n, f"/api/snippets/{n}/") for n in (1, 2, 3)]
    fanout = EventFanout(history=History(missed))
    fanout.cursor, fanout.epoch = (3, 0), "e"
    recorder = Recorder()
    subscription = Subscription(recorder, "/api/snippets/", (1, 0))
    fanout.subscriptions["/api/snippets/"] = {recorder: subscription}
    fanout.deliver(change(3, "/api/snippets/3/"))  # read again while catching up
    fanout.deliver(change(4, "/api/snippets/4/"))
    assert recorder.frames == []
    asyncio.run(fanout.catch_up(subscription))
    fanout.deliver(change(5, "/api/snippets/5/"))
    assert recorder.urls == [f"/api/snippets/{n}/" for n in (2, 3, 4, 5)]


def test_a_change_that_could_not_be_recorded_resyncs_every_subscription():
    """A `resync` in the history tells each subscription to fetch again."""
    fanout, [listing, one] = fanout_with("/api/snippets/", "/api/snippets/1/")
    resync = _entry((b"9-0", {b"event": b'{"event": "resync"}'}), "e")
    assert isinstance(resync, Entry)
    fanout.deliver(resync)
    assert listing.frames == [{"event": "resync", "url": "/api/snippets/"}]
    assert one.frames == [{"event": "resync", "url": "/api/snippets/1/"}]
