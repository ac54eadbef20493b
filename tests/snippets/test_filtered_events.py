"""
Live filtered lists: a subscription to `/api/snippets/?language=ruby` hears a
snippet enter its list (`created`: made, edited into the filter, made visible),
change while in it (`updated`) and leave it (`deleted`, with its id and url:
edited out, made private, deleted), as its own GET of that URL would show it,
in events that name the subscription. The generated schedules of
test_oracle.py check the same promise against the GET on many sequences.
"""

import json
import uuid

import pytest
import requests
from websockets.sync.client import connect

from live.testing import new_user, next_event, receive, subscribe
from snippets.models import Snippet
from tests.conftest import (
    EventStream,
    server_sharing_history,
    server_token,
)

pytestmark = pytest.mark.django_db(transaction=True)

server, shared_prefix = server_sharing_history("filtered")


@pytest.fixture
def word():
    """A title word no other test's snippet has: the lists are this test's own."""
    return f"w{uuid.uuid4().hex[:10]}"


def heard(ws, url):
    """The next event: its name, and what it carries (a snippet's title, or
    the `{id, url}` of one that left); it must name the subscription `url`."""
    event = next_event(ws)
    assert event["subscription"] == url, event
    data = event["data"]
    return event["event"], data.get("title", data)


def test_a_snippet_enters_stays_in_and_leaves_a_filtered_list(server, word):
    url = f"/api/snippets/?language=ruby&search={word}"
    owner = new_user("owner")
    # Made before the subscription: each change below is heard before the next.
    snippet = Snippet.objects.create(title=word, code="1", owner=owner)  # python
    with connect(server.ws_url) as ws:
        assert subscribe(ws, url)["data"]["results"] == []
        gone = {"id": snippet.pk, "url": f"/api/snippets/{snippet.pk}/"}
        steps = [
            ({"language": "ruby"}, ("created", word)),  # edited into the filter
            ({"code": "2"}, ("updated", word)),
            ({"title": "other"}, ("deleted", gone)),  # edited out (by its title)
            ({"title": f"{word} again"}, ("created", f"{word} again")),
            ({"private": True}, ("deleted", gone)),  # hidden from the anonymous
            ({"private": False}, ("created", f"{word} again")),  # shown again
        ]
        for fields, expected in steps:
            for name, value in fields.items():
                setattr(snippet, name, value)
            snippet.save()
            Snippet.objects.create(title=word, code="1")  # python: never heard
            assert heard(ws, url) == expected, fields
        snippet.delete()
        assert heard(ws, url) == ("deleted", gone)
        fresh = requests.get(server.url + url).json()["results"]
        assert fresh == []


def test_each_subscription_of_a_socket_hears_its_own_events(server, word):
    """Two filters and the whole list on one socket: one change, an event for
    each list it concerns, each naming its subscription (the whole list's names
    none)."""
    python = f"/api/snippets/?search={word}&language=python"
    ruby = f"/api/snippets/?language=ruby&search={word}"
    with connect(server.ws_url) as ws:
        for url in (python, ruby, "/api/snippets/"):
            assert subscribe(ws, url)["status"] == 200
        snippet = Snippet.objects.create(title=word, code="1", language="ruby")
        assert heard_by(ws, 2) == {None: "created", ruby: "created"}
        snippet.language = "python"
        snippet.save()
        assert heard_by(ws, 3) == {None: "updated", ruby: "deleted", python: "created"}


def heard_by(ws, count):
    """`{subscription: event}` of the next `count` events."""
    events = [next_event(ws) for _ in range(count)]
    return {event.get("subscription"): event["event"] for event in events}


def test_a_subscription_with_its_parameters_in_another_order_is_the_same(server, word):
    with connect(server.ws_url) as ws:
        subscribe(ws, f"/api/snippets/?language=ruby&search={word}")
        subscribe(ws, f"/api/snippets/?search={word}&language=ruby")
        Snippet.objects.create(title=word, code="1", language="ruby")
        event = next_event(ws)
        assert event["subscription"] == f"/api/snippets/?search={word}&language=ruby"
        Snippet.objects.create(title=f"{word} 2", code="1", language="ruby")
        # One event a change: the first subscription was replaced.
        assert next_event(ws)["data"]["title"] == f"{word} 2"


def test_the_owner_filter_over_an_event_stream(server, word):
    """An event stream of alice's snippets: bob's are never heard; one given to
    bob leaves it."""
    alice, bob = new_user("alice"), new_user("bob")
    url = f"/api/snippets/?owner={alice.username}"
    stream = EventStream(server, url)
    try:
        assert stream.next_event()["data"]["results"] == []
        Snippet.objects.create(title="bob's", code="1", owner=bob)
        mine = Snippet.objects.create(title=word, code="1", owner=alice)
        first = stream.next_event()["data"]
        assert (first["event"], first["data"]["title"]) == ("created", word)
        mine.owner = bob
        mine.save()
        left = stream.next_event()["data"]
        assert (left["event"], left["data"]["id"]) == ("deleted", mine.pk)
    finally:
        stream.close()


def test_private_true_is_each_identity_s_own_list(server, word):
    """`?private=true` lists its owner's private snippets for its owner, and
    nothing for anyone else: rendered per identity, never shared wrongly."""
    owner, other = new_user("owner"), new_user("other")
    url = f"/api/snippets/?private=true&search={word}"
    with connect(server.ws_url) as mine, connect(server.ws_url) as theirs:
        subscribe(mine, url, token=server_token(owner))
        subscribe(theirs, url, token=server_token(other))
        subscribe(theirs, "/api/snippets/")  # the whole list, as the anonymous
        snippet = Snippet.objects.create(
            title=word, code="1", owner=owner, private=True
        )
        assert heard(mine, url) == ("created", word)
        snippet.private = False
        snippet.save()
        assert heard(mine, url)[0] == "deleted"  # left: no longer private
        assert next_event(theirs)["event"] == "created"  # entered the whole list
        snippet.delete()
        # The other's `private=true` heard nothing: the next event is the whole
        # list's.
        event = next_event(theirs)
        assert (event["event"], "subscription" in event) == ("deleted", False)


def test_a_filtered_subscription_resumes_with_what_it_missed(server, word):
    url = f"/api/snippets/?language=ruby&search={word}"
    with connect(server.ws_url) as ws:
        position = subscribe(ws, url)["position"]
    entering = Snippet.objects.create(title=word, code="1", language="python")
    entering.language = "ruby"
    entering.save()
    leaving = Snippet.objects.create(title=word, code="1", language="ruby")
    leaving.title = "gone"
    leaving.save()
    Snippet.objects.create(title=word, code="1")  # python: never in it
    held = {}
    with connect(server.ws_url) as ws:
        reply = subscribe(ws, url, since=position)
        assert reply["recovered"] is True
        # A change that enters the list last: once heard, all before it were.
        Snippet.objects.create(title=f"{word} last", code="1", language="ruby")
        while not held or list(held.values())[-1]["title"] != f"{word} last":
            event = next_event(ws)
            assert event["subscription"] == url
            if event["event"] == "deleted":
                held.pop(event["url"], None)
            else:
                held[event["url"]] = event["data"]
    fresh = requests.get(server.url + url).json()["results"]
    assert sorted(held) == sorted(item["url"] for item in fresh)
    assert [item["title"] for item in fresh] == [f"{word} last", word]


def test_a_bad_filter_refuses_the_subscription_naming_it(server):
    with connect(server.ws_url) as ws:
        ws.send(
            json.dumps(
                {"id": 1, "method": "SUBSCRIBE", "url": "/api/snippets/?language=nope"}
            )
        )
        reply = receive(ws)
    assert reply["status"] == 400
    assert list(reply["data"]) == ["language"]
