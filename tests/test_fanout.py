"""The fan-out on its own: who hears which event, and what is not an event."""

import asyncio
import json

import pytest

from wsserver.events import EventFanout, event_url


class Recorder:
    """A subscriber that keeps what it is sent."""

    def __init__(self):
        self.frames = []

    def send_text(self, text):
        self.frames.append(json.loads(text))


def event(url):
    return json.dumps({"event": "updated", "url": url, "data": {}})


NOT_EVENTS = [
    b"\xff\xfe not UTF-8",
    "not JSON",
    "[]",
    '{"url": 5}',
    '{"event": "x", "url": "x"}',
    '{"event": "x", "url": "//evil.example/"}',
    '{"event": 5, "url": "/api/"}',
    '{"event": "x"}',
]


@pytest.mark.parametrize("text", NOT_EVENTS)
def test_what_is_not_an_event_has_no_url(text):
    """Anything on the channel that is not an event is recognised as such."""
    assert event_url(text) is None


def fanout_with(*subscriptions):
    """A fan-out whose subscribers listen to `subscriptions`; no Redis needed."""

    async def make():
        fanout = EventFanout(
            redis_url="redis://unused.invalid", channel="x", redis_options={}
        )
        fanout._listener = asyncio.get_running_loop().create_future()  # never listens
        recorders = []
        for url in subscriptions:
            recorders.append(Recorder())
            fanout.subscribe(recorders[-1], url)
        return fanout, recorders

    return asyncio.run(make())


def test_malformed_events_are_skipped_and_the_next_one_is_delivered():
    """A bad event is logged and skipped; the fan-out lives on."""
    fanout, [recorder] = fanout_with("/api/snippets/")
    for text in NOT_EVENTS:
        fanout.deliver(text)
    fanout.deliver(event("/api/snippets/1/"))
    assert [frame["url"] for frame in recorder.frames] == ["/api/snippets/1/"]


def test_subscriptions_hear_their_resource_and_what_is_below_it():
    """A list hears its items; an item hears only itself; paths match decoded."""
    fanout, [listing, one, encoded, other] = fanout_with(
        "/api/snippets/", "/api/snippets/1", "/api/snippets/%31/", "/api/users/"
    )
    fanout.deliver(event("/api/snippets/1/"))
    fanout.deliver(event("/api/snippets/12/"))
    assert [f["url"] for f in listing.frames] == [
        "/api/snippets/1/",
        "/api/snippets/12/",
    ]
    assert [f["url"] for f in one.frames] == ["/api/snippets/1/"]
    assert [f["url"] for f in encoded.frames] == ["/api/snippets/1/"]
    assert other.frames == []


def test_each_subscriber_hears_an_event_once():
    """Subscribed to a list and to an item in it, a connection hears a change once."""
    fanout, [recorder] = fanout_with("/api/snippets/")
    fanout.subscribe(recorder, "/api/snippets/1/")
    fanout.deliver(event("/api/snippets/1/"))
    assert len(recorder.frames) == 1
