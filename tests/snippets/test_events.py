"""
Live events across processes: a subscriber on one web process hears every change
made anywhere (the other process over HTTP or WebSocket, the ORM, the erase job).
"""

import json
import socket
from datetime import timedelta

import pytest
import redis
import requests
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from live.redis_client import get_redis
from live.testing import receive, subscribe
from snippets.models import Snippet
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    SharedHistory,
    sign_up_token,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

history = SharedHistory("events")
subscriber_server = history.server()
writer_server = history.server()
shared_prefix = history.recorded_here()


def without_position(event):
    """The event as the app published it; every event carries its position, and
    one that shows the resource its ETag."""
    assert isinstance(event.pop("position"), str)
    if event["event"] != "deleted":
        assert event.pop("etag").startswith('"')
    return event


def assert_nothing_more(ws):
    """Nothing else is on its way: one known change, made now, is heard next.

    Events are fanned out in the order they are published, so anything owed
    from an earlier change arrives before this one. A barrier, not a quiet window
    that a slow machine could outwait.
    """
    barrier = Snippet.objects.create(title="barrier", code="1")
    url = f"/api/snippets/{barrier.pk}/"
    ws.send(json.dumps({"id": "barrier", "method": "SUBSCRIBE", "url": url}))
    extra = []
    while (frame := receive(ws)) != {**frame, "event": "updated", "url": url}:
        if frame.get("id") == "barrier":  # subscribed: now the known change
            barrier.title = "barrier, updated"
            barrier.save()
        elif frame != {**frame, "event": "created", "url": url}:
            extra.append(frame)  # (the barrier's creation, where the list is heard)
    assert extra == []


def test_subscribe_replies_with_the_get_snapshot(subscriber_server):
    """SUBSCRIBE answers with exactly what GET returns."""
    Snippet.objects.create(title="there", code="1")
    expected = requests.get(f"{subscriber_server.url}/api/snippets/").json()
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, "/api/snippets/", id=8)
    assert reply["id"] == 8
    assert reply["status"] == 200
    assert reply["method"] == "SUBSCRIBE"
    assert reply["data"] == expected


def test_http_create_on_another_process_is_heard_once(subscriber_server, writer_server):
    """A snippet created over HTTP on one process reaches a subscriber on another."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        created = requests.post(
            f"{writer_server.url}/api/snippets/", json={"title": "t", "code": "c"}
        ).json()
        event = receive(ws)
        assert_nothing_more(ws)
    shown = requests.get(f"{subscriber_server.url}{created['url']}").json()
    assert without_position(event) == {
        "event": "created",
        "url": created["url"],
        "data": shown,
    }


def test_websocket_update_on_another_process_is_heard_once(
    subscriber_server, writer_server
):
    """A change made over the other process's WebSocket arrives as `updated`."""
    snippet = Snippet.objects.create(title="before", code="1")
    url = f"/api/snippets/{snippet.pk}/"
    with connect(subscriber_server.ws_url) as ws, connect(writer_server.ws_url) as w:
        subscribe(ws, "/api/snippets/")
        w.send(json.dumps({"method": "PATCH", "url": url, "data": {"title": "after"}}))
        # Anonymous snippets are staff-only: the PATCH is refused, nothing is sent.
        assert receive(w)["status"] == 401
        assert_nothing_more(ws)
        user_token = sign_up_token(writer_server)
        owned = post_snippet(w, user_token)
        assert receive(ws)["event"] == "created"
        w.send(
            json.dumps(
                {
                    "method": "PATCH",
                    "url": owned["url"],
                    "data": {"title": "after"},
                    "token": user_token,
                }
            )
        )
        assert receive(w)["status"] == 200
        event = receive(ws)
        assert_nothing_more(ws)
    assert event["event"] == "updated"
    assert event["url"] == owned["url"]
    assert event["data"]["title"] == "after"


def post_snippet(ws, token):
    ws.send(
        json.dumps(
            {
                "method": "POST",
                "url": "/api/snippets/",
                "data": {"title": "mine", "code": "x = 1"},
                "token": token,
            }
        )
    )
    reply = receive(ws)
    assert reply["status"] == 201
    return reply["data"]


def test_orm_changes_in_any_process_are_heard(subscriber_server, shared_prefix):
    """Saves and deletes through the ORM (a shell, the admin) publish events too."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        snippet = Snippet.objects.create(title="orm", code="1")
        assert receive(ws)["event"] == "created"
        snippet.title = "orm, renamed"
        snippet.save()
        updated = receive(ws)
        pk = snippet.pk
        snippet.delete()
        deleted = receive(ws)
        assert_nothing_more(ws)
    assert updated["data"]["title"] == "orm, renamed"
    assert deleted["event"] == "deleted"
    assert deleted["data"] == {"id": pk, "url": f"/api/snippets/{pk}/"}
    assert updated["position"] < deleted["position"]


def test_rolled_back_change_sends_nothing(subscriber_server, shared_prefix):
    """Events are published after commit: a rolled-back change is never announced."""

    class Abort(Exception):
        pass

    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        with pytest.raises(Abort), transaction.atomic():
            Snippet.objects.create(title="never", code="1")
            raise Abort
        assert_nothing_more(ws)


def test_detail_subscription_hears_only_its_snippet(subscriber_server, shared_prefix):
    """A subscription to one snippet's URL ignores changes to other snippets."""
    mine = Snippet.objects.create(title="mine", code="1")
    other = Snippet.objects.create(title="other", code="1")
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, f"/api/snippets/{mine.pk}/")
        assert reply["data"]["title"] == "mine"
        other.title = "other, renamed"
        other.save()
        mine.title = "mine, renamed"
        mine.save()
        event = receive(ws)
        assert_nothing_more(ws)
    assert event["url"] == f"/api/snippets/{mine.pk}/"
    assert event["data"]["title"] == "mine, renamed"


def test_failed_subscribe_subscribes_nothing(subscriber_server, shared_prefix):
    """A SUBSCRIBE whose GET fails (404) replies with the failure and hears nothing."""
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, "/api/snippets/999999/")
        assert reply["status"] == 404
        Snippet.objects.create(title="new", code="1")
        assert_nothing_more(ws)


def test_unsubscribe_stops_events(subscriber_server, shared_prefix):
    """After UNSUBSCRIBE the connection hears nothing more for that URL."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        ws.send(json.dumps({"id": 9, "method": "UNSUBSCRIBE", "url": "/api/snippets/"}))
        reply = receive(ws)
        Snippet.objects.create(title="unheard", code="1")
        assert_nothing_more(ws)
    assert reply["id"] == 9
    assert reply["status"] == 200


def test_unsubscribe_without_subscription_is_404(subscriber_server):
    """UNSUBSCRIBE from a URL never subscribed says so."""
    with connect(subscriber_server.ws_url) as ws:
        ws.send(json.dumps({"method": "UNSUBSCRIBE", "url": "/api/snippets/"}))
        reply = receive(ws)
    assert reply["status"] == 404
    assert reply["data"]["detail"] == "Not subscribed to this URL."


def test_erase_command_deletions_are_heard(subscriber_server, shared_prefix):
    """The erase job's deletions reach subscribers as `deleted` events."""
    with connect(subscriber_server.ws_url) as ws:
        # Subscribed first: a change made just before a SUBSCRIBE may still be
        # heard after it (its position is at or before the snapshot's), and a
        # busy server's reader can be that far behind.
        subscribe(ws, "/api/snippets/")
        old = Snippet.objects.create(title="old", code="1")
        Snippet.objects.filter(pk=old.pk).update(
            created=timezone.now() - timedelta(hours=1)
        )
        Snippet.objects.create(title="fresh", code="1")
        assert [receive(ws)["event"] for _ in range(2)] == ["created", "created"]
        call_command("erase_snippets", "--older-than", "60")
        event = receive(ws)
        assert list(Snippet.objects.values_list("title", flat=True)) == ["fresh"]
        assert_nothing_more(ws)
    assert without_position(event) == {
        "event": "deleted",
        "url": f"/api/snippets/{old.pk}/",
        "data": {"id": old.pk, "url": f"/api/snippets/{old.pk}/"},
    }


def test_redis_restart_tells_subscribers_to_resync(server_factory, own_redis):
    """When Redis comes back, subscribers get `resync`, then events flow again."""
    server = server_factory(REDIS_URL=own_redis.url, REDIS_KEY_PREFIX=history.prefix)
    with connect(server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        own_redis.stop()
        own_redis.start()
        assert receive(ws) == {"event": "resync", "url": "/api/snippets/"}
        created = requests.post(
            f"{server.url}/api/snippets/", json={"title": "after", "code": "1"}
        ).json()
        event = receive(ws)
    assert event["event"] == "created"
    assert event["url"] == created["url"]


def test_requests_needing_redis_fail_cleanly_while_it_is_down(
    server_factory, own_redis
):
    """With Redis gone, throttled requests get a 503 with a detail, not a traceback."""
    server = server_factory(REDIS_URL=own_redis.url)
    own_redis.stop()
    response = requests.get(f"{server.url}/api/snippets/")
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": "/api/snippets/"}))
        reply = receive(ws)
    assert response.status_code == 503
    assert reply["status"] == 503
    assert reply["data"] == response.json()
    assert "Traceback" not in server.log()


def test_slow_subscriber_is_disconnected_not_buffered(server_factory, shared_prefix):
    """A subscriber that stops reading is cut off once its backlog passes the bound."""
    server = server_factory(
        REDIS_KEY_PREFIX=history.prefix, WS_MAX_BUFFERED_BYTES=64 * 1024
    )
    sock = socket.socket()
    # A tiny receive window, so the backlog piles up in the server, not the kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    with connect(server.ws_url, sock=sock, max_size=None, max_queue=1) as ws:
        subscribe(ws, "/api/snippets/")
        # More than the kernel's socket buffers hold (about 11 MB of events).
        big_code = "x" * 90_000
        for _ in range(120):
            Snippet.objects.create(title="flood", code=big_code, language="text")
        # Read nothing until the server has given up on this client: reading
        # meanwhile could keep its backlog under the bound.
        wait_until(lambda: "client is not reading" in server.log())
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=EVENT_TIMEOUT_SECONDS)
    assert ws.close_code == 1008


def test_redis_that_stops_answering_is_noticed_and_nothing_is_missed(
    server_factory, own_redis
):
    """A link that goes silent (here: Redis paused) is found dead within a
    bounded time and read again from where it stopped: no change is lost."""
    server = server_factory(
        REDIS_URL=own_redis.url,
        REDIS_KEY_PREFIX=history.prefix,
        REDIS_TIMEOUT_SECONDS=1,
    )
    with connect(server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        redis.Redis.from_url(own_redis.url).execute_command(
            "CLIENT", "PAUSE", 3000, "ALL"
        )
        wait_until(lambda: "History unreadable" in server.log())
        responses = []  # 503s while Redis is paused (the throttle needs it)
        wait_until(
            lambda: (
                responses.append(
                    requests.post(
                        f"{server.url}/api/snippets/",
                        json={"title": "after", "code": "1"},
                    )
                )
                or responses[-1].status_code == 201
            )
        )
        created = responses[-1].json()
        event = receive(ws)
    assert (event["event"], event["url"]) == ("created", created["url"])


def test_junk_on_the_events_channel_is_skipped(subscriber_server):
    """Whatever else publishes on the channel, the next real change arrives."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, "/api/snippets/")
        for junk in [b"\xff\xfe", b'{"event":"x","url":"x"}', b'{"url":5}', b"[]"]:
            get_redis().publish(f"{history.prefix}:events", junk)
        snippet = Snippet.objects.create(title="after junk", code="1")
        event = receive(ws)
    assert (event["event"], event["url"]) == ("created", f"/api/snippets/{snippet.pk}/")


def test_percent_encoded_subscription_hears_its_snippet(subscriber_server):
    """`/api/snippets/%31/` is snippet 1 to Django, and to the fan-out too."""
    snippet = Snippet.objects.create(title="encoded", code="1")
    encoded = "/api/snippets/" + "".join(f"%{ord(c):02X}" for c in str(snippet.pk))
    with connect(subscriber_server.ws_url) as ws:
        assert subscribe(ws, encoded + "/")["status"] == 200
        snippet.title = "encoded, renamed"
        snippet.save()
        event = receive(ws)
    assert event["data"]["title"] == "encoded, renamed"
