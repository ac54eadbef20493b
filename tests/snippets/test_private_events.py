"""
Events respect who may see them. For every change and every kind of subscriber
(anonymous, the owner, two other users, staff; to the list and to the snippet),
the events heard equal the difference between a GET of the snippet with the
subscriber's credentials before the change and one after: `created` as it
enters the view, `updated` within it, `deleted` as it leaves, nothing while it
is out of view. Everyone but the owner and staff shares one render of a change
(a cohort): the matrix holds with the renders shared. Subscribers listen on one
process; the changes are made on another (and by the erase job, an owner change
from the admin, a promotion and a demotion, in this one). A promoted or demoted
subscriber is told to refetch every subscription (`resync`); no one else hears
anything of it.
"""

import contextlib
import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from websockets.sync.client import connect

from live.testing import new_user, receive, subscribe
from snippets.management.commands.erase_snippets import erase_snippets
from snippets.models import Snippet
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    EventStream,
    SharedHistory,
    server_token,
)
from tests.contract import validate_event

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/snippets/"

history = SharedHistory("private")
subscriber_server = history.server()
writer_server = history.server()
shared_prefix = history.recorded_here()


@pytest.fixture
def people():
    """Who subscribes: `(user, token)` by role; the anonymous has neither."""
    users = {
        "owner": new_user("owner"),
        "other": new_user("other"),
        "another": new_user("another"),
        "staff": new_user("staff", is_staff=True),
    }
    return {
        "anonymous": (None, None),
        **{role: (user, server_token(user)) for role, user in users.items()},
    }


def auth(token):
    return {"Authorization": f"JWT {token}"} if token else {}


def as_owner(people, method, server, url, data=None):
    response = requests.request(
        method, server.url + url, json=data, headers=auth(people["owner"][1])
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def give(snippet_url, user):
    """As the admin does: the snippet's owner changed, saved in another process."""
    snippet = Snippet.objects.get(pk=snippet_url.rstrip("/").rsplit("/", 1)[1])
    snippet.owner = user
    snippet.save()


def set_staff(user, is_staff):
    user.is_staff = is_staff
    user.save()  # as the admin's form saves it


def erase(snippet_url):
    pk = int(snippet_url.rstrip("/").rsplit("/", 1)[1])
    Snippet.objects.filter(pk=pk).update(created=timezone.now() - timedelta(days=1))
    assert erase_snippets(older_than=3600, keep_at_most=10**6) == 1


# (the snippet's privacy before, or None if the change creates it; the change)
CHANGES = {
    "create public": (None, lambda p, w, url: as_owner(p, "POST", w, LIST, {**NEW})),
    "create private": (
        None,
        lambda p, w, url: as_owner(p, "POST", w, LIST, {**NEW, "private": True}),
    ),
    "update public": (
        False,
        lambda p, w, url: as_owner(p, "PATCH", w, url, {"title": "u"}),
    ),
    "update private": (
        True,
        lambda p, w, url: as_owner(p, "PATCH", w, url, {"title": "u"}),
    ),
    "make private": (
        False,
        lambda p, w, url: as_owner(p, "PATCH", w, url, {"private": True}),
    ),
    "make public": (
        True,
        lambda p, w, url: as_owner(p, "PATCH", w, url, {"private": False}),
    ),
    "delete public": (False, lambda p, w, url: as_owner(p, "DELETE", w, url)),
    "delete private": (True, lambda p, w, url: as_owner(p, "DELETE", w, url)),
    "erase job": (True, lambda p, w, url: erase(url)),
    "owner change": (True, lambda p, w, url: give(url, p["another"][0])),
    "promotion": (True, lambda p, w, url: set_staff(p["other"][0], True)),
    "demotion": (True, lambda p, w, url: set_staff(p["staff"][0], False)),
}
# Whose rights each of these changes: that subscriber is told to refetch (its
# GETs of everything may now differ), everyone else hears nothing.
RIGHTS_CHANGED = {"promotion": "other", "demotion": "staff"}
NEW = {"title": "new", "code": "print(1)"}


def get(server, url, token):
    """`(status, body)` of a GET of `url` with `token`; `None` if there is no
    `url` yet."""
    if url is None:
        return None
    response = requests.get(server.url + url, headers=auth(token))
    return response.status_code, response.json()


def expected_events(before, after):
    """What a subscriber should hear, given its GETs before and after."""
    seen, sees = before[0] == 200, after[0] == 200
    if sees:
        return [("updated" if seen else "created", after[1])]
    return [("deleted", None)] if seen else []


def pass_barrier(barrier, sockets, barrier_url):
    """Change `barrier`; return what each socket heard before that change."""
    barrier.save()
    return {key: heard_until(ws, barrier_url) for key, ws in sockets.items()}


def heard_until(ws, barrier_url):
    """The events received until the barrier snippet's update."""
    events = []
    while True:
        frame = json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))
        if frame.get("url") == barrier_url and frame.get("event") == "updated":
            return events
        if "event" in frame:
            if frame["event"] != "resync":
                validate_event(LIST, frame)  # as /api/asyncapi.json describes it
            events.append(frame)


@pytest.mark.parametrize("change", CHANGES)
def test_each_subscriber_hears_exactly_how_its_view_changed(
    subscriber_server, writer_server, people, change
):
    private_before, make_change = CHANGES[change]
    url = None
    if private_before is not None:
        snippet = Snippet.objects.create(
            title="t", code="1", owner=people["owner"][0], private=private_before
        )
        url = f"/api/snippets/{snippet.pk}/"
    barrier = Snippet.objects.create(title="barrier", code="1")
    barrier_url = f"/api/snippets/{barrier.pk}/"
    kinds = ["list"] if url is None else ["list", "detail"]
    sockets, accepted = {}, {}
    with contextlib.ExitStack() as stack:
        for who, (_, token) in people.items():
            for kind in kinds:
                ws = stack.enter_context(connect(subscriber_server.ws_url))
                sockets[who, kind] = ws
                target = LIST if kind == "list" else url
                reply = subscribe(ws, target, token=token)
                accepted[who, kind] = reply["status"] == 200
                assert subscribe(ws, barrier_url, token=token)["status"] == 200
        # Whatever was on its way (the snapshot's own changes) comes first.
        pass_barrier(barrier, sockets, barrier_url)
        before = {
            who: get(writer_server, url, token) for who, (_, token) in people.items()
        }
        made = make_change(people, writer_server, url)
        url = url or made["url"]
        if before["owner"] is None:  # created by the change: out of every view
            before = dict.fromkeys(people, (404, None))
        after = {
            who: get(writer_server, url, token) for who, (_, token) in people.items()
        }
        heard_by = pass_barrier(barrier, sockets, barrier_url)
        for (who, kind), heard in heard_by.items():
            if change in RIGHTS_CHANGED:  # each of its subscriptions refetches
                target = LIST if kind == "list" else url
                held = [barrier_url, *([target] if accepted[who, kind] else [])]
                want = [("resync", path) for path in sorted(held)]
                got = sorted((e["event"], e["url"]) for e in heard)
                assert got == (want if RIGHTS_CHANGED[change] == who else []), who
                continue
            assert {event["url"] for event in heard} <= {url}, (who, kind)
            got = [
                (
                    e["event"],
                    e["data"] if e["event"] in ("created", "updated") else None,
                )
                for e in heard
            ]
            want = (
                expected_events(before[who], after[who]) if accepted[who, kind] else []
            )
            assert got == want, (who, kind)


def test_a_replay_shows_a_snippet_made_private_since_as_deleted(
    subscriber_server, writer_server, people
):
    """A change rendered (and kept) while its snippet was public is never
    replayed with its content after the snippet turned private: a non-owner
    resuming from before hears `deleted`, over a socket and an event stream."""
    with (
        connect(subscriber_server.ws_url) as live,
        connect(subscriber_server.ws_url) as away,
    ):
        assert subscribe(live, LIST, token=None)["status"] == 200
        away.send(json.dumps({"id": "s", "method": "SUBSCRIBE", "url": LIST}))
        since = receive(away)["position"]
        made = as_owner(people, "POST", writer_server, LIST, {**NEW, "code": "secret"})
        assert receive(live)["event"] == "created"  # rendered while public
        as_owner(people, "PATCH", writer_server, made["url"], {"private": True})
        assert receive(live)["event"] == "deleted"
    with connect(subscriber_server.ws_url) as back:
        frame = {"id": "s", "method": "SUBSCRIBE", "url": LIST, "since": since}
        back.send(json.dumps(frame))
        assert receive(back)["recovered"] is True
        heard = receive(back)
        assert (heard["event"], heard["data"]["url"]) == ("deleted", made["url"])
        assert "secret" not in json.dumps(heard)
    stream = EventStream(subscriber_server, LIST, **{"Last-Event-ID": since})
    try:
        heard = stream.next_event()
        assert (heard["event"], heard["data"]["url"]) == ("deleted", made["url"])
        assert "secret" not in json.dumps(heard)
    finally:
        stream.close()
