"""
Live events across processes: a subscriber on one web process hears every change
made anywhere (the other process over HTTP or WebSocket, the ORM), and Redis
faults on the way.
"""

import json

import pytest
import redis
import requests
from django.db import transaction
from websockets.sync.client import connect

from live.redis_client import get_redis
from live.testing import new_user, receive, subscribe
from tests.conftest import SharedHistory, note_url, post_note, share, wait_until
from tests.notes.models import Note

pytestmark = pytest.mark.django_db(transaction=True)

history = SharedHistory("events")
subscriber_server = history.server()
writer_server = history.server()
shared_prefix = history.recorded_here()

LIST = "/api/notes/"


def without_position(event):
    """The event as the app published it; every event carries its position, and
    one that shows the resource its ETag."""
    assert isinstance(event.pop("position"), str)
    if event["event"] != "deleted":
        assert event.pop("etag").startswith('"')
    return event


def assert_nothing_more(ws, author):
    """Nothing else is on its way: one known change, made now, is heard next.

    Events are fanned out in the order they are published, so anything owed
    from an earlier change arrives before this one. A barrier, not a quiet window
    that a slow machine could outwait.
    """
    barrier = share(author, "barrier")
    url = note_url(barrier)
    ws.send(json.dumps({"id": "barrier", "method": "SUBSCRIBE", "url": url}))
    extra = []
    while (frame := receive(ws)) != {**frame, "event": "updated", "url": url}:
        if frame.get("id") == "barrier":  # subscribed: now the known change
            barrier.text = "barrier, updated"
            barrier.save()
        elif frame != {**frame, "event": "created", "url": url}:
            extra.append(frame)  # (the barrier's creation, where the list is heard)
    assert extra == []


def test_subscribe_replies_with_the_get_snapshot(subscriber_server, author):
    """SUBSCRIBE answers with exactly what GET returns."""
    share(author, "there")
    expected = requests.get(subscriber_server.url + LIST).json()
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, LIST, id=8)
    assert reply["id"] == 8
    assert reply["status"] == 200
    assert reply["method"] == "SUBSCRIBE"
    assert reply["data"] == expected


def test_http_create_on_another_process_is_heard_once(
    subscriber_server, writer_server, author
):
    """A note created over HTTP on one process reaches a subscriber on another."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, LIST)
        url = note_url(post_note(writer_server, author, "t").json())
        event = receive(ws)
        assert_nothing_more(ws, author)
    shown = requests.get(subscriber_server.url + url).json()
    assert without_position(event) == {"event": "created", "url": url, "data": shown}


def test_websocket_update_on_another_process_is_heard_once(
    subscriber_server, writer_server, author
):
    """A change made over the other process's WebSocket arrives as `updated`."""
    someone_else = Note.objects.create(owner=new_user("other"), text="b", shared=True)
    with connect(subscriber_server.ws_url) as ws, connect(writer_server.ws_url) as w:
        subscribe(ws, LIST)
        edit = {"method": "PATCH", "data": {"text": "after"}, "token": author[1]}
        # Only its owner edits a note: the PATCH is refused, nothing is sent.
        w.send(json.dumps({**edit, "url": note_url(someone_else)}))
        assert receive(w)["status"] == 403
        assert_nothing_more(ws, author)
        new = {"text": "mine", "shared": True}
        w.send(
            json.dumps({"method": "POST", "url": LIST, "data": new, "token": author[1]})
        )
        owned = note_url(receive(w)["data"])
        assert receive(ws)["event"] == "created"
        w.send(json.dumps({**edit, "url": owned}))
        assert receive(w)["status"] == 200
        event = receive(ws)
        assert_nothing_more(ws, author)
    assert event["event"] == "updated"
    assert event["url"] == owned
    assert event["data"]["text"] == "after"


def test_orm_changes_in_any_process_are_heard(subscriber_server, author):
    """Saves and deletes through the ORM (a shell, the admin) publish events too."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, LIST)
        note = share(author, "orm")
        assert receive(ws)["event"] == "created"
        note.text = "orm, renamed"
        note.save()
        updated = receive(ws)
        url = note_url(note)
        note.delete()
        deleted = receive(ws)
        assert_nothing_more(ws, author)
    assert updated["data"]["text"] == "orm, renamed"
    assert deleted["event"] == "deleted"
    assert deleted["data"] == {"id": int(url.split("/")[-2]), "url": url}
    assert updated["position"] < deleted["position"]


def test_rolled_back_change_sends_nothing(subscriber_server, author):
    """Events are published after commit: a rolled-back change is never announced."""

    class Abort(Exception):
        pass

    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, LIST)
        with pytest.raises(Abort), transaction.atomic():
            share(author, "never")
            raise Abort
        assert_nothing_more(ws, author)


def test_detail_subscription_hears_only_its_note(subscriber_server, author):
    """A subscription to one note's URL ignores changes to other notes."""
    mine = share(author, "mine")
    other = share(author, "other")
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, note_url(mine))
        assert reply["data"]["text"] == "mine"
        other.text = "other, renamed"
        other.save()
        mine.text = "mine, renamed"
        mine.save()
        event = receive(ws)
        assert_nothing_more(ws, author)
    assert event["url"] == note_url(mine)
    assert event["data"]["text"] == "mine, renamed"


def test_failed_subscribe_subscribes_nothing(subscriber_server, author):
    """A SUBSCRIBE whose GET fails (404) replies with the failure and hears nothing."""
    with connect(subscriber_server.ws_url) as ws:
        reply = subscribe(ws, f"{LIST}999999/")
        assert reply["status"] == 404
        share(author, "new")
        assert_nothing_more(ws, author)


def test_unsubscribe_stops_events(subscriber_server, author):
    """After UNSUBSCRIBE the connection hears nothing more for that URL."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, LIST)
        ws.send(json.dumps({"id": 9, "method": "UNSUBSCRIBE", "url": LIST}))
        reply = receive(ws)
        share(author, "unheard")
        assert_nothing_more(ws, author)
    assert reply["id"] == 9
    assert reply["status"] == 200


def test_unsubscribe_without_subscription_is_404(subscriber_server):
    """UNSUBSCRIBE from a URL never subscribed says so."""
    with connect(subscriber_server.ws_url) as ws:
        ws.send(json.dumps({"method": "UNSUBSCRIBE", "url": LIST}))
        reply = receive(ws)
    assert reply["status"] == 404
    assert reply["data"]["detail"] == "Not subscribed to this URL."


def test_redis_restart_tells_subscribers_to_resync(server_factory, own_redis, author):
    """When Redis comes back, subscribers get `resync`, then events flow again."""
    server = server_factory(REDIS_URL=own_redis.url, REDIS_KEY_PREFIX=history.prefix)
    with connect(server.ws_url) as ws:
        subscribe(ws, LIST)
        own_redis.stop()
        own_redis.start()
        assert receive(ws) == {"event": "resync", "url": LIST}
        created = post_note(server, author, "after").json()
        event = receive(ws)
    assert event["event"] == "created"
    assert event["url"] == note_url(created)


def test_requests_needing_redis_fail_cleanly_while_it_is_down(
    server_factory, own_redis
):
    """With Redis gone, throttled requests get a 503 with a detail, not a traceback."""
    server = server_factory(REDIS_URL=own_redis.url)
    own_redis.stop()
    response = requests.get(server.url + LIST)
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": LIST}))
        reply = receive(ws)
    assert response.status_code == 503
    assert reply["status"] == 503
    assert reply["data"] == response.json()
    assert "Traceback" not in server.log()


def test_redis_that_stops_answering_is_noticed_and_nothing_is_missed(
    server_factory, own_redis, author
):
    """A link that goes silent (here: Redis paused) is found dead within a
    bounded time and read again from where it stopped: no change is lost."""
    server = server_factory(
        REDIS_URL=own_redis.url,
        REDIS_KEY_PREFIX=history.prefix,
        REDIS_TIMEOUT_SECONDS=1,
    )
    with connect(server.ws_url) as ws:
        subscribe(ws, LIST)
        redis.Redis.from_url(own_redis.url).execute_command(
            "CLIENT", "PAUSE", 3000, "ALL"
        )
        wait_until(lambda: "History unreadable" in server.log())
        responses = []  # 503s while Redis is paused (the throttle needs it)
        wait_until(
            lambda: (
                responses.append(post_note(server, author, "after"))
                or responses[-1].status_code == 201
            )
        )
        created = responses[-1].json()
        event = receive(ws)
    assert (event["event"], event["url"]) == ("created", note_url(created))


def test_junk_on_the_events_channel_is_skipped(subscriber_server, author):
    """Whatever else publishes on the channel, the next real change arrives."""
    with connect(subscriber_server.ws_url) as ws:
        subscribe(ws, LIST)
        for junk in [b"\xff\xfe", b'{"event":"x","url":"x"}', b'{"url":5}', b"[]"]:
            get_redis().publish(f"{history.prefix}:events", junk)
        note = share(author, "after junk")
        event = receive(ws)
    assert (event["event"], event["url"]) == ("created", note_url(note))


def test_percent_encoded_subscription_hears_its_note(subscriber_server, author):
    """`/api/notes/%31/` is note 1 to Django, and to the fan-out too."""
    note = share(author, "encoded")
    encoded = LIST + "".join(f"%{ord(c):02X}" for c in str(note.pk))
    with connect(subscriber_server.ws_url) as ws:
        assert subscribe(ws, encoded + "/")["status"] == 200
        note.text = "encoded, renamed"
        note.save()
        event = receive(ws)
    assert event["data"]["text"] == "encoded, renamed"
