"""
The promise, checked against its oracle on generated schedules: every subscriber
hears each change as its own GET shows it.

A seeded schedule mixes what people do (anonymous visitors, plain users,
owners, staff; creates, edits, privacy flips, owner changes and deletes from
the admin, promotions and demotions, sign-outs, resumes with `since`) while
subscribers listen on two processes, over WebSocket and Server-Sent Events.
Two properties hold on every schedule:

- **Never shown what its GET refuses.** Each version of a snippet has a code of
  its own; a subscriber may receive it only if its own GET could see that
  version while it was current (the test tracks who could, state by state).
- **Right once changes stop.** Each subscriber's list (its snapshot with the
  events applied, refetched when told to) equals its own fresh GET.

Some subscribers listen to a filtered list (by language, title words, privacy):
snippets enter and leave it as edits change them, and what they hear must
match their filter too.

`ORACLE_SCHEDULES` sets how many schedules run (`make oracle` runs many);
`ORACLE_SEED` the first seed. A failure names the seed that reproduces it.
"""

import contextlib
import json
import os
import random
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from websockets.sync.client import connect

from live.conf import live_settings
from live.redis_client import get_redis
from live.testing import new_user
from snippets.models import Snippet
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    PASSWORD,
    EventStream,
    SharedHistory,
    server_token,
)
from wsserver.history import stream_id

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/snippets/"
SCHEDULES = int(os.environ.get("ORACLE_SCHEDULES", "20"))
FIRST_SEED = int(os.environ.get("ORACLE_SEED", "1"))
STEPS = 30
MOST_SNIPPETS = 8  # with the barrier, all on the list's first page
LANGUAGES = ["python", "ruby"]
TITLES = ["alpha", "beta", "alpha beta", "gamma"]
# Lists a subscriber may keep: each holds the barrier (public, python, titled
# "barrier alpha beta"), which tells it when it has heard everything.
FILTERS = [
    "",
    "?language=python",
    "?search=alpha",
    "?search=beta&language=python",
    "?private=false",
    "?search=alpha+beta&private=false",
]


# Changes made here (the admin's, the barrier's) reach the servers.
history = SharedHistory("oracle")
first_server = history.server()
second_server = history.server()
shared_prefix = history.recorded_here()


@pytest.fixture
def servers(first_server, second_server):
    return [first_server, second_server]


def auth(token):
    return {"Authorization": f"JWT {token}"} if token else {}


class World:
    """What the schedule did, as the test knows it: users' rights, snippets,
    and for each version (its code) the identities that could have seen it."""

    def __init__(self, rng, servers):
        self.rng = rng
        self.servers = servers
        self.admin = new_user("admin", password=PASSWORD, is_staff=True)
        self.admin_token = server_token(self.admin)
        self.users = [
            new_user(f"u{i}", password=PASSWORD, is_staff=rng.random() < 0.35)
            for i in range(4)
        ]
        self.snippets = {}  # url -> Snippet (as last written)
        self.may_see = {"barrier": {"anonymous"}}  # code -> identities
        self.versions = 0
        self.trace = []  # what the schedule did, for a failure's message
        self.barrier = Snippet.objects.create(title=barrier_title(), code="barrier")
        self.barrier_url = f"{LIST}{self.barrier.pk}/"

    def identities(self):
        return ["anonymous", *(f"user:{user.pk}" for user in self.users)]

    def sees(self, identity, snippet):
        if not snippet.private:
            return True
        user = next((u for u in self.users if f"user:{u.pk}" == identity), None)
        return user is not None and (user.is_staff or snippet.owner_id == user.pk)

    def observe(self):
        """Record who may see each snippet in the state the schedule is in now."""
        for snippet in self.snippets.values():
            seen_by = self.may_see.setdefault(snippet.code, set())
            seen_by.update(i for i in self.identities() if self.sees(i, snippet))
        self.may_see["barrier"].update(self.identities())

    def new_code(self):
        self.versions += 1
        return f"v{self.versions}-{uuid.uuid4().hex[:4]}"

    def check_visible(self, identity, data, where):
        code = data.get("code") if isinstance(data, dict) else None
        if code is None:
            return
        if identity not in self.may_see.get(code, ()):
            raise AssertionError(f"{identity} received {code} ({where}), never visible")

    def settle_barrier(self):
        """Change the barrier; every change before it is heard before it.
        Return its place in the history (a replay of an earlier change to the
        barrier shows it as it is now, so only the place tells them apart)."""
        self.barrier.title = barrier_title()
        self.barrier.save()
        latest = get_redis().xrevrange(live_settings.EVENTS_STREAM, count=1)
        return stream_id(latest[0][0])

    # -- what people do -------------------------------------------------------

    def server(self):
        return self.rng.choice(self.servers)

    def writer_token(self, snippet):
        owner = next((u for u in self.users if u.pk == snippet.owner_id), None)
        return server_token(owner) if owner else self.admin_token

    def create(self):
        owner = self.rng.choice([None, *self.users])
        code = self.new_code()
        data = {
            "title": self.rng.choice(TITLES),
            "code": code,
            "language": self.rng.choice(LANGUAGES),
        }
        if owner is not None and self.rng.random() < 0.7:
            data["private"] = True
        token = server_token(owner) if owner else None
        response = requests.post(
            self.server().url + LIST, json=data, headers=auth(token)
        )
        assert response.status_code == 201, response.text
        url = response.json()["url"]
        self.trace.append(f"  {url} {data} by {owner and owner.pk}")
        self.snippets[url] = Snippet.objects.get(pk=url.rstrip("/").rsplit("/")[-1])

    def patch(self, url, **fields):
        snippet = self.snippets[url]
        response = requests.patch(
            self.server().url + url,
            json=fields,
            headers=auth(self.writer_token(snippet)),
        )
        assert response.status_code == 200, response.text
        self.trace.append(f"  {url} {fields}")
        snippet.refresh_from_db()

    def edit(self, url):
        """A new version, often into or out of a filter."""
        fields = {"code": self.new_code()}
        if self.rng.random() < 0.5:
            fields["language"] = self.rng.choice(LANGUAGES)
        if self.rng.random() < 0.5:
            fields["title"] = self.rng.choice(TITLES)
        self.patch(url, **fields)

    def flip_privacy(self, url):
        snippet = self.snippets[url]
        if snippet.owner_id is not None:
            self.patch(url, private=not snippet.private)

    def change_owner(self, url):
        """As the admin does it: a save in another process, no HTTP."""
        snippet = self.snippets[url]
        snippet.owner = self.rng.choice(self.users)
        snippet.code = self.new_code()
        snippet.save()
        self.trace.append(f"  {url} owner {snippet.owner_id} {snippet.code}")

    def delete(self, url):
        snippet = self.snippets.pop(url)
        self.trace.append(f"  {url}")
        response = requests.delete(
            self.server().url + url, headers=auth(self.writer_token(snippet))
        )
        assert response.status_code == 204, response.text

    def promote_or_demote(self):
        user = self.rng.choice(self.users)
        user.is_staff = not user.is_staff
        user.save()  # as the admin's form saves it
        self.trace.append(f"  user:{user.pk} staff={user.is_staff}")


class Listener:
    """One subscriber to the list: its socket or event stream, and its list."""

    def __init__(self, world, *, server, user, transport, session, query=""):
        self.world = world
        self.url = LIST + query
        self.server = server
        self.user = user
        self.transport = transport
        self.session = session  # a real sign-in (sign-out ends it), or a long token
        self.identity = "anonymous" if user is None else f"user:{user.pk}"
        self.items = {}
        self.position = None
        self.connection = None
        self.closing = contextlib.ExitStack()
        self.stale = True  # to subscribe afresh
        self.token = None
        self.signed_out = False

    def __repr__(self):
        return f"<{self.identity} {self.transport} :{self.server.port} {self.url}>"

    def sign_in(self):
        self.signed_out = False
        if self.user is None:
            self.token = None
        elif self.session:
            response = requests.post(
                self.server.url + "/api/auth/token/",
                json={"username": self.user.username, "password": PASSWORD},
            )
            assert response.status_code == 200, response.text
            self.token = response.json()["access"]
            self.refresh = response.json()["refresh"]
        else:
            expires = int(time.time()) + self.world.rng.randrange(3600, 7200)
            self.token = server_token(self.user, expires=expires)

    def sign_out(self):
        response = requests.post(
            self.server.url + "/api/auth/token/blacklist/",
            json={"refresh": self.refresh},
        )
        assert response.status_code == 200, response.text
        self.signed_out = True
        self.world.trace.append(f"  {self}")

    def subscribe(self, since=None):
        """Subscribe afresh (or resume from `since`); events before the reply
        belong to the subscription it replaces."""
        self.close()
        if self.transport == "sse":
            headers = auth(self.token)
            if since:
                headers["Last-Event-ID"] = since
            self.connection = EventStream(self.server, self.url, **headers)
            self.closing.callback(self.connection.close)
            if not since:
                first = self.connection.next_event()
                assert first["event"] == "snapshot", first
                self.take_snapshot(first["data"], first["id"])
            self.stale = False
            return
        # Unbounded: a listener that goes away unread must close at once.
        websocket = connect(self.server.ws_url, max_queue=None)
        self.connection = self.closing.enter_context(websocket)
        frame = {"id": "sub", "method": "SUBSCRIBE", "url": self.url}
        frame["token"] = self.token
        if since:
            frame["since"] = since
        self.connection.send(json.dumps(frame))
        while (reply := self.receive()).get("id") != "sub":
            pass
        if reply["status"] == 401 and self.session:  # signed out while away
            self.sign_in()
            return self.subscribe()
        assert reply["status"] == 200, reply
        if not reply.get("recovered"):
            self.take_snapshot(reply["data"], reply["position"])
        self.stale = False

    def take_snapshot(self, body, position):
        self.items = {}
        for item in body["results"]:
            self.check(item, "snapshot")
            self.items[item["url"]] = item
        self.position = position

    def receive(self):
        """The next frame, checked: nothing in it its GET could not see."""
        if self.transport == "sse":
            try:
                event = self.connection.next_event()
            except (AssertionError, requests.RequestException):
                return {"event": "ended"}  # as a stream does with its credentials
            if event["event"] == "snapshot":
                frame = {"event": "snapshot", "data": event["data"]}
                frame["position"] = event["id"]
            else:
                frame = event["data"]
        else:
            frame = json.loads(self.connection.recv(timeout=EVENT_TIMEOUT_SECONDS))
        data = frame.get("data")
        if frame.get("event") in ("created", "updated"):
            self.check(data, frame["event"])
        elif isinstance(data, dict):
            for item in data.get("results", []):
                self.check(item, "snapshot")
        if frame.get("event") and frame["event"] != "snapshot":
            named = frame.get("subscription")
            assert named == (self.url if self.url != LIST else None), frame
        return frame

    def check(self, item, where):
        """Nothing its GET could not see, nothing outside its filter."""
        self.world.check_visible(self.identity, item, where)
        assert in_filter(self.url, item), (self, where, item)

    def hear_until(self, barrier):
        """Apply every event until the barrier's change at `barrier`."""
        while not self.stale:
            event = self.receive()
            name = event.get("event")
            if os.environ.get("ORACLE_DEBUG"):
                print(self, json.dumps(event)[:200])  # noqa
            if name == "snapshot":  # an event stream that could not resume
                self.take_snapshot(event["data"], event["position"])
                continue
            if name in ("resync", "unsubscribed", "ended"):
                self.stale = True
                if name == "unsubscribed":
                    self.sign_in()
                return
            if event.get("position"):
                self.position = event["position"]
            url, data = event.get("url"), event.get("data")
            if name == "deleted":
                assert data == {"id": int(url.split("/")[-2]), "url": url}, event
                self.items.pop(url, None)
            elif name in ("created", "updated"):
                self.items[url] = data
            place = stream_id(event.get("position", ":0-0").partition(":")[2])
            if url == self.world.barrier_url and place >= barrier:
                return

    def go_away(self):
        """Close the connection; resume later from the last position heard."""
        self.close()

    def close(self):
        self.closing.close()
        self.connection = None

    def check_against_get(self):
        response = requests.get(self.server.url + self.url, headers=auth(self.token))
        assert response.status_code == 200, response.text
        fresh = {item["url"]: item for item in response.json()["results"]}
        assert self.items == fresh, (self, sorted(self.items), sorted(fresh))


def settle(world, listeners):
    """Let everything said so far be heard; resubscribe whoever was told to
    refetch (or whose credentials ended), until all are current."""
    for _ in range(10):
        for listener in listeners:
            if listener.connection is None or listener.stale:
                listener.subscribe()
        barrier = world.settle_barrier()
        for listener in listeners:
            listener.hear_until(barrier)
        if not any(listener.stale for listener in listeners):
            return
    raise AssertionError("subscribers still told to refetch after 10 rounds")


def run_schedule(seed, servers):
    """One generated schedule; raises on the first broken promise."""
    rng = random.Random(seed)
    world = World(rng, servers)
    listeners = [
        Listener(
            world,
            # Crowded on one process, so that renders are shared there.
            server=servers[0] if rng.random() < 0.7 else servers[1],
            user=user,
            transport=transport,
            # A real sign-in (which sign-out ends), or a token of its own
            # whose expiry decides whose credentials render a shared view.
            session=transport == "ws" and user is not None and rng.random() < 0.5,
            query=rng.choice(FILTERS),
        )
        for user in [None, *world.users, *world.users]
        for transport in ["ws", "sse"]
        if rng.random() < (0.7 if transport == "ws" else 0.15) * (1 if user else 0.4)
    ]
    for listener in listeners:
        listener.sign_in()
    world.observe()
    away = []
    try:
        settle(world, listeners)
        for _ in range(STEPS):
            step(world, listeners, away)
            world.observe()
        for listener in away:
            listener.subscribe(since=listener.position)
        away.clear()
        settle(world, listeners)
        for listener in listeners:
            listener.check_against_get()
    except AssertionError as error:
        steps = "\n".join(world.trace)
        raise AssertionError(f"{error}\nafter these steps:\n{steps}") from None
    finally:
        for listener in listeners:
            listener.close()
        Snippet.objects.filter(pk=world.barrier.pk).delete()
        for url in world.snippets:
            Snippet.objects.filter(pk=url.rstrip("/").rsplit("/")[-1]).delete()


def barrier_title():
    return f"barrier alpha beta {uuid.uuid4().hex[:8]}"


def in_filter(url, item):
    """Whether `item` is one the list at `url` holds, by its filters."""
    query = parse_qs(urlsplit(url).query)
    language = query.get("language", [item["language"]])[0]
    private = query.get("private", [str(item["private"]).lower()])[0]
    words = " ".join(query.get("search", [])).split()
    return (
        item["language"] == language
        and str(item["private"]).lower() == private
        and all(word.lower() in item["title"].lower() for word in words)
    )


def step(world, listeners, away):
    rng = world.rng
    urls = sorted(world.snippets)
    # Rights change often: what shared renders must survive.
    choices = ["create", "create", "promote", "promote", "settle", "away"]
    if urls:
        choices += ["edit", "privacy", "privacy", "owner", "delete"]
    signed_in = [ls for ls in listeners if ls.session and not ls.signed_out]
    if signed_in:
        choices.append("sign out")
    if away:
        choices.append("back")
    action = rng.choice(choices)
    world.trace.append(action)
    if action == "create" and len(urls) < MOST_SNIPPETS:
        world.create()
    elif action == "promote":
        world.promote_or_demote()
    elif action == "settle":
        settle(world, [listener for listener in listeners if listener not in away])
    elif action == "edit":
        world.edit(rng.choice(urls))
    elif action == "privacy":
        world.flip_privacy(rng.choice(urls))
    elif action == "owner":
        world.change_owner(rng.choice(urls))
    elif action == "delete":
        world.delete(rng.choice(urls))
    elif action == "sign out":
        rng.choice(signed_in).sign_out()
    elif action == "away":
        present = [ls for ls in listeners if ls not in away]
        if present:
            listener = rng.choice(present)
            listener.go_away()
            away.append(listener)
            world.trace.append(f"  {listener} at {listener.position}")
    elif action == "back":
        listener = away.pop(rng.randrange(len(away)))
        world.trace.append(f"  {listener}")
        listener.subscribe(since=listener.position)


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + SCHEDULES))
def test_every_subscriber_hears_what_its_get_shows(servers, seed):
    """On schedule `seed`: nothing a GET refuses is heard, and each subscriber's
    list equals its fresh GET once changes stop."""
    try:
        run_schedule(seed, servers)
    except AssertionError as error:
        raise AssertionError(f"schedule {seed} (ORACLE_SEED={seed}): {error}") from None
