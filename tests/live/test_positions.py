"""
Gap-free events: every change after a snapshot is delivered once, in order, or
the subscriber is told to refetch. Positions, resume with `since`, and faults,
over real processes and a real Redis.
"""

import asyncio
import contextlib
import json
import signal
import uuid

import pytest
import redis
import requests
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from live.conf import live_settings
from live.redis_client import get_redis
from live.testing import receive, subscribe
from tests.conftest import SharedHistory, note_url, post_note, share, use_key_prefix
from tests.notes.models import Note
from tests.slow_urls import release, wait_entered

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/notes/"

history = SharedHistory("positions")
server = history.server()
other_server = history.server()
shared_prefix = history.recorded_here()


def post(server, author, text):
    """Share a note over HTTP as `author`; its URL."""
    response = post_note(server, author, text)
    assert response.status_code == 201, response.text
    return note_url(response.json())


def test_change_committed_while_the_snapshot_is_read_is_delivered(server, author):
    """A change that commits while SUBSCRIBE's GET runs is not lost between the
    snapshot and the stream: the reply's position comes before the GET."""
    key = uuid.uuid4().hex
    with connect(server.ws_url) as ws:
        ws.send(
            json.dumps(
                {
                    "id": "sub",
                    "method": "SUBSCRIBE",
                    "url": LIST,
                    "headers": {"X-Test-Wait": key},
                }
            )
        )
        wait_entered(key)
        note = share(author, "during the GET")
        release(key)
        reply = receive(ws)
        event = receive(ws)
    assert reply["status"] == 200
    assert reply["position"] < event["position"]
    assert (event["event"], event["url"]) == ("created", f"{LIST}{note.pk}/")


def test_resume_delivers_exactly_what_was_missed_in_order(server, other_server, author):
    """Subscribe, go away, three changes elsewhere, resume with `since`: the reply
    says `recovered` and carries no snapshot; the changes follow in order, each
    as a GET shows the resource now (so the update of a resource since deleted
    says it left the view)."""
    with connect(server.ws_url) as ws:
        position = subscribe(ws, LIST)["position"]
    url = post(other_server, author, "while away")
    requests.patch(f"{other_server.url}{url}", json={"text": "x"})  # 401: no change
    note = Note.objects.get(pk=url.split("/")[-2])
    Note.objects.filter(pk=note.pk).update(text="not announced")
    Note.objects.get(pk=note.pk).save()
    Note.objects.get(pk=note.pk).delete()
    with connect(server.ws_url) as ws:
        reply = subscribe(ws, LIST, since=position)
        events = [receive(ws) for _ in range(2)]  # the creation is not shown
        marker = post(other_server, author, "after")
        assert receive(ws)["url"] == marker  # and nothing in between
    assert reply["status"] == 200
    assert reply["recovered"] is True
    assert "data" not in reply
    assert [(e["event"], e["url"]) for e in events] == [
        ("deleted", url),  # the update: it was seen before, and is gone now
        ("deleted", url),
    ]
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)


def test_resume_from_before_the_history_gets_a_fresh_snapshot(server_factory, author):
    """When the capped history no longer reaches back, `recovered` is false and
    the reply carries a snapshot, as a first SUBSCRIBE does."""
    short = server_factory(
        REDIS_KEY_PREFIX=f"test:short:{uuid.uuid4().hex}", EVENTS_HISTORY=2
    )
    with connect(short.ws_url) as ws:
        position = subscribe(ws, LIST)["position"]
    for number in range(3):
        post(short, author, f"trimmed {number}")
    with connect(short.ws_url) as ws:
        reply = subscribe(ws, LIST, since=position)
    assert reply["status"] == 200
    assert reply["recovered"] is False
    assert reply["data"]["count"] >= 3
    assert reply["position"] > position


@pytest.mark.parametrize("since", ["nonsense", "", "ab:cd", 5])
def test_since_that_is_no_position_is_400(server, since):
    """A `since` that is not a position at all is refused."""
    with connect(server.ws_url) as ws:
        reply = subscribe(ws, LIST, since=since)
    assert reply["status"] == 400


def test_since_from_another_history_gets_a_snapshot(server):
    """A well-formed position of a history that is gone is not recovered from."""
    with connect(server.ws_url) as ws:
        reply = subscribe(ws, LIST, since="0badf00d:1-0")
    assert (reply["status"], reply["recovered"]) == (200, False)
    assert "results" in reply["data"]


def test_change_that_could_not_be_recorded_is_followed_by_resync(
    server, next_record_fails, author
):
    """If Redis fails when a change commits, the next recorded change is preceded
    by `resync`: subscribers are told, never left wrong in silence."""
    with connect(server.ws_url) as ws:
        subscribe(ws, LIST)
        share(author, "lost")
        recorded = share(author, "recorded")
        resync = receive(ws)
        event = receive(ws)
    assert resync == {"event": "resync", "url": LIST}
    assert event["url"] == f"{LIST}{recorded.pk}/"


def test_killed_history_connection_misses_nothing(server_factory, own_redis, author):
    """When the fan-out's Redis connection is killed, it reads on from where it
    was: changes made meanwhile arrive, and no resync is needed."""
    server = server_factory(REDIS_URL=own_redis.url, REDIS_TIMEOUT_SECONDS=1)
    admin = redis.Redis.from_url(own_redis.url)
    with connect(server.ws_url) as ws:
        subscribe(ws, LIST)
        admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        created = [post(server, author, f"after the kill {n}") for n in range(3)]
        events = [receive(ws) for _ in created]
    assert [e["url"] for e in events] == created
    assert all(e["event"] == "created" for e in events)


DRAINED_SUBSCRIBERS = 200


async def subscribe_many(url, count, **fields):
    """`count` sockets subscribed to the list; their replies, in order."""
    sockets = [await async_connect(url, max_size=None) for _ in range(count)]
    message = json.dumps({"method": "SUBSCRIBE", "url": LIST, **fields})
    for ws in sockets:
        await ws.send(message)
    replies = [json.loads(await ws.recv()) for ws in sockets]
    return sockets, replies


async def next_frames(ws, count):
    return [json.loads(await ws.recv()) for _ in range(count)]


def test_subscribers_drained_by_a_deploy_resume_elsewhere_missing_nothing(
    server_factory, author
):
    """200 subscribers on a web process that gets SIGTERM reconnect to another and
    resume: every change made meanwhile arrives once, and no snapshot is re-read."""
    prefix = f"test:drain:{uuid.uuid4().hex}"
    # All from one address here, unlike 200 visitors.
    limits = {"REDIS_KEY_PREFIX": prefix, "WS_MAX_CONNECTIONS_PER_ADDRESS": 1000}
    leaving = server_factory(**limits)
    staying = server_factory(**limits)

    async def scenario():
        sockets, replies = await subscribe_many(leaving.ws_url, DRAINED_SUBSCRIBERS)
        assert {reply["status"] for reply in replies} == {200}, replies[-1]
        positions = [reply["position"] for reply in replies]
        leaving.process.send_signal(signal.SIGTERM)
        for ws in sockets:
            with contextlib.suppress(ConnectionClosed):
                await ws.recv()
        assert {ws.close_code for ws in sockets} == {1001}
        urls = [post(staying, author, f"during the deploy {n}") for n in range(3)]
        resumed = []
        for position in positions:
            ws = await async_connect(staying.ws_url, max_size=None)
            await ws.send(
                json.dumps({"method": "SUBSCRIBE", "url": LIST, "since": position})
            )
            resumed.append(ws)
        results = [await next_frames(ws, 1 + len(urls)) for ws in resumed]
        marker = post(staying, author, "after")
        afterwards = [(await next_frames(ws, 1))[0]["url"] for ws in resumed]
        for ws in resumed:
            await ws.close()
        return urls, results, marker, afterwards

    urls, results, marker, afterwards = asyncio.run(scenario())
    for reply, *events in results:
        assert (reply["status"], reply["recovered"], "data" in reply) == (
            200,
            True,
            False,
        )
        assert [event["url"] for event in events] == urls
    assert afterwards == [marker] * DRAINED_SUBSCRIBERS  # nothing twice, no gap


def own_history(server_factory, settings, **limits):
    """A server with a history of its own (this process records into it too)."""
    prefix = f"test:bounded:{uuid.uuid4().hex}"
    use_key_prefix(settings, prefix)
    return server_factory(REDIS_KEY_PREFIX=prefix, **limits)


def test_resume_further_behind_than_allowed_gets_a_fresh_snapshot(
    server_factory, settings, author
):
    """Missed more changes than `WS_RESUME_MAX_CHANGES`: a snapshot, not a replay
    of each; as many as that: the replay."""
    # Each note's change is recorded twice: tests/notes and tests/mine both
    # make Note live. Two notes' changes may be replayed, not three.
    bounded = own_history(server_factory, settings, WS_RESUME_MAX_CHANGES=2 * 2)
    with connect(bounded.ws_url) as ws:
        too_far = subscribe(ws, LIST)["position"]
    share(author, "missed 1")
    with connect(bounded.ws_url) as ws:
        near = subscribe(ws, LIST)["position"]
    for number in (2, 3):
        share(author, f"missed {number}")
    with connect(bounded.ws_url) as ws:
        refused = subscribe(ws, LIST, since=too_far)
        assert (refused["recovered"], refused["data"]["count"]) == (False, 3)
    with connect(bounded.ws_url) as ws:
        assert subscribe(ws, LIST, since=near)["recovered"] is True
        assert [receive(ws)["event"] for _ in range(2)] == ["created"] * 2


def test_replayed_changes_count_against_the_subscriber_s_throttle(
    server_factory, settings, author
):
    """A replay renders each missed change as a request of the subscriber's:
    once over its throttle it is asked to refetch (once), not replayed more."""
    throttled = own_history(server_factory, settings, ANON_THROTTLE_RATE="3/min")
    with connect(throttled.ws_url) as ws:
        position = subscribe(ws, LIST)["position"]  # request 1
    for number in range(3):
        share(author, f"missed {number}")
    with connect(throttled.ws_url) as ws:
        assert subscribe(ws, LIST, since=position)["recovered"] is True  # request 2
        heard = [receive(ws)["event"] for _ in range(2)]  # 3 replayed, 4 refused
        assert heard == ["created", "resync"]
        probe = share(author, "live")  # live: unthrottled
        assert receive(ws)["url"] == f"{LIST}{probe.pk}/"


def test_replays_leave_threads_to_requests_and_a_full_queue_refuses_them(
    server_factory, settings
):
    """Replays take turns on at most half of Django's threads, so an HTTP request
    is answered while they wait; each catch-up holds a place in the queue, so
    once it is full requests get 503 with `Retry-After`, not a long wait."""
    busy = own_history(server_factory, settings, WS_THREADS=2, WS_MAX_QUEUED_REQUESTS=1)
    keys = [uuid.uuid4().hex for _ in range(3)]
    positions = {}
    for key in keys:  # each listens to a view that waits for the test
        release(key)  # (its SUBSCRIBE's GET answers at once)
        with connect(busy.ws_url) as ws:
            positions[key] = subscribe(ws, f"/test/wait/{key}/")["position"]
        wait_entered(key)
        change = {"event": "updated", "url": f"/test/wait/{key}/"}
        get_redis().xadd(live_settings.EVENTS_STREAM, {"event": json.dumps(change)})
    with contextlib.ExitStack() as stack:
        sockets = {key: stack.enter_context(connect(busy.ws_url)) for key in keys}

        def resume(key):
            release(key)
            reply = subscribe(sockets[key], f"/test/wait/{key}/", since=positions[key])
            assert reply["recovered"] is True
            wait_entered(key)

        resume(keys[0])
        wait_entered(keys[0])  # its replay now holds one of the two threads
        resume(keys[1])  # its replay waits its turn
        assert requests.get(busy.url + LIST).status_code == 200
        assert get_redis().llen(f"test-entered:{keys[1]}") == 0
        resume(keys[2])  # three catch-ups: the queue is full
        refused = requests.get(busy.url + LIST)
        assert (refused.status_code, refused.headers["Retry-After"]) == (503, "1")
        for key in keys:
            release(key)
        for key in keys:
            assert receive(sockets[key])["url"] == f"/test/wait/{key}/"
