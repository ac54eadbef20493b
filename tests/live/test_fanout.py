"""The fan-out on its own: who hears which change, in what order, as whom, and
what is not a change at all. No Redis and no Django: changes are handed in
directly, and a stub stands in for the app's GET of each changed resource."""

import asyncio
import json
import time
from dataclasses import replace

import pytest

from wsserver.bridge import Peer
from wsserver.credentials import Credentials
from wsserver.events import EXPIRED, REVOKED_DETAIL, EventFanout
from wsserver.history import START, Entry, Position, _entry
from wsserver.protocol import Message
from wsserver.renders import COPIES_PER_FRAME, OVERHEAD_BYTES
from wsserver.subscriptions import Subscription


class Recorder:
    """A subscriber that keeps what it is sent."""

    def __init__(self):
        self.frames = []

    def send_text(self, text):
        self.frames.append(json.loads(text))

    @property
    def urls(self):
        return [frame["url"] for frame in self.frames]

    @property
    def events(self):
        return [(frame["event"], frame["url"]) for frame in self.frames]


class App:
    """What the app answers to the GET of a changed resource, per identity:
    `visible[identity]` is the set of URLs it sees now, `before` those it saw;
    `cohorts[identity]` the cohort it belongs to now (by default the one it
    subscribed in)."""

    def __init__(self, visible=None, before=None, status=None, cohorts=None):
        self.visible = visible or {}
        self.before = before or {}
        self.status = status
        self.cohorts = cohorts or {}
        self.renders = []

    async def render(self, entry, credentials, *, queries=(), replay=False):
        who = credentials.identity
        self.renders.append((entry.url, who))
        seen = entry.url in self.before.get(who, {entry.url})
        headers = {"Live-Visible-Before": "true" if seen else "false"}
        cohort = self.cohorts.get(who, credentials.cohort)
        if cohort is not None:
            headers["Live-Cohort"] = cohort
        status = self.status or (
            200 if entry.url in self.visible.get(who, {entry.url}) else 404
        )
        return {"status": status, "headers": headers, "data": {"as": who}}


def as_(identity, expires=None):
    request = Message("/api/notes/", "SUBSCRIBE", token=identity)
    return Credentials(identity, request, Peer("127.0.0.1", "localhost"), expires)


def change(number, url, name="updated", **record):
    """The `number`th change, to `url` (a snippet unless `model` says otherwise),
    as the history reader hands it over."""
    record = {"model": "notes.note", **record}
    text = json.dumps({"event": name, "url": url, **record})
    return _entry((f"{number}-0".encode(), {b"event": text}), "e")


NOT_CHANGES = [
    b"\xff\xfe not UTF-8",
    "not JSON",
    "[]",
    '{"url": 5}',
    '{"event": "x", "url": "x"}',
    '{"event": "x", "url": "//evil.example/"}',
    '{"event": 5, "url": "/api/"}',
    '{"event": "x"}',
    '{"event": "revoked"}',
    '{"event": "revoked", "identity": 5}',
]


@pytest.mark.parametrize("text", NOT_CHANGES)
def test_what_is_not_a_change_is_skipped(text):
    """Anything written to the history that is not a change is left out."""
    assert _entry((b"1-0", {b"event": text}), "e") is None
    assert _entry((b"1-0", {b"other": b"field"}), "e") is None


def test_every_change_carries_its_position():
    """The position is the history's epoch and the entry's id."""
    assert change(7, "/api/notes/1/").position == "e:7-0"
    assert Position.parse("e:7-0") == Position("e", (7, 0))
    assert [Position.parse(text) for text in ["", "e", "e:x", ":1-0", "e:1"]] == [
        None
    ] * 5


def fanout_with(app, *subscribed):
    """A fan-out with one live subscriber per `(url, identity)` in `subscribed`."""
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    recorders = []
    for url, identity in subscribed:
        recorders.append(Recorder())
        add(fanout, recorders[-1], url, as_(identity))
    return fanout, recorders


def add(fanout, recorder, url, credentials, heard_up_to=(0, 0), backlog=None):
    subscription = Subscription(recorder, url, heard_up_to, credentials, backlog)
    fanout.registry.add(subscription)
    return subscription


def deliver(fanout, *entries):
    async def main():
        for entry in entries:
            await fanout.deliver(entry)

    asyncio.run(main())


def test_subscriptions_hear_their_resource_and_what_is_below_it():
    """A list hears its items; an item hears only itself; paths match decoded."""
    fanout, [listing, one, encoded, other] = fanout_with(
        App(),
        ("/api/notes/", "anonymous"),
        ("/api/notes/1", "anonymous"),
        ("/api/notes/%31/", "anonymous"),
        ("/api/users/", "anonymous"),
    )
    deliver(fanout, change(1, "/api/notes/1/"), change(2, "/api/notes/12/"))
    assert listing.urls == ["/api/notes/1/", "/api/notes/12/"]
    assert one.urls == encoded.urls == ["/api/notes/1/"]
    assert other.frames == []


def test_a_change_is_rendered_once_per_identity_and_heard_once():
    """Many subscribers of one identity cost one render; a connection subscribed
    to a list and an item in it hears a change once; a repeat is dropped."""
    app = App()
    fanout, recorders = fanout_with(
        app, *[("/api/notes/", "anonymous")] * 50, ("/api/notes/", "user:1")
    )
    add(fanout, recorders[0], "/api/notes/1/", as_("anonymous"))
    deliver(fanout, change(1, "/api/notes/1/"), change(1, "/api/notes/1/"))
    assert sorted(app.renders) == [
        ("/api/notes/1/", "anonymous"),
        ("/api/notes/1/", "user:1"),
    ]
    assert all(len(recorder.frames) == 1 for recorder in recorders)
    assert recorders[0].frames[0]["data"] == {"as": "anonymous"}
    assert recorders[-1].frames[0]["data"] == {"as": "user:1"}


@pytest.mark.parametrize(
    ("name", "before", "now", "heard"),
    [
        ("created", False, True, "created"),
        ("created", False, False, None),
        ("updated", True, True, "updated"),
        ("updated", False, True, "created"),  # made public: it enters the view
        ("updated", True, False, "deleted"),  # made private: it leaves
        ("updated", False, False, None),  # never seen: nothing, not even its id
        ("deleted", True, False, "deleted"),
        ("deleted", False, False, None),
    ],
)
def test_each_identity_hears_how_its_view_changed(name, before, now, heard):
    url = "/api/notes/1/"
    app = App(
        visible={"anonymous": {url} if now else set()},
        before={"anonymous": {url} if before else set()},
    )
    fanout, [recorder] = fanout_with(app, ("/api/notes/", "anonymous"))
    data = {"id": 1, "url": url}
    deliver(fanout, change(1, url, name, data=data))
    assert recorder.events == ([(heard, url)] if heard else [])
    if heard == "deleted":
        assert recorder.frames[0]["data"] == data


def test_credentials_that_no_longer_hold_end_the_subscriptions_of_that_identity():
    """A render answered 401 ends every subscription of that identity, with the
    app's reason; others hear the change."""
    app = App(status=401)
    fanout, [ended, also_ended] = fanout_with(
        app, ("/api/notes/", "user:1"), ("/api/notes/1/", "user:1")
    )
    deliver(fanout, change(1, "/api/notes/1/"))
    assert ended.frames == [
        {
            "event": "unsubscribed",
            "url": "/api/notes/",
            "status": 401,
            "data": {"detail": "Credentials no longer valid."},
        }
    ]
    assert also_ended.events == [("unsubscribed", "/api/notes/1/")]
    assert not fanout.registry


def test_a_change_the_app_cannot_show_asks_its_subscribers_to_refetch():
    fanout, [recorder] = fanout_with(App(status=500), ("/api/notes/", "anonymous"))
    deliver(fanout, change(1, "/api/notes/1/"))
    assert recorder.frames == [{"event": "resync", "url": "/api/notes/"}]


def test_a_revocation_ends_that_identitys_subscriptions_only():
    fanout, [revoked, other] = fanout_with(
        App(), ("/api/notes/", "user:1"), ("/api/notes/", "user:2")
    )
    revocation = _entry(
        (b"2-0", {b"event": b'{"event":"revoked","identity":"user:1"}'}), "e"
    )
    deliver(fanout, revocation, change(3, "/api/notes/1/"))
    assert revoked.frames == [
        {
            "event": "unsubscribed",
            "url": "/api/notes/",
            "status": 401,
            "data": {"detail": REVOKED_DETAIL},
        }
    ]
    assert other.events == [("updated", "/api/notes/1/")]


class History:
    """The history, as far as subscribing, catching up and looking ahead for
    rights changes read it."""

    def __init__(self, entries=()):
        self.entries = list(entries)

    async def rights_count(self):
        return sum(entry.event == "rights-changing" for entry in self.entries)

    async def after(self, after, epoch):
        return [entry for entry in self.entries if entry.id > (after or START)]

    async def between(self, after, upto, epoch, *, most=None):
        found = [e for e in self.entries if after < e.id <= upto]
        return None if most is not None and len(found) > most else found

    async def reaches_back_to(self, entry_id):
        return True


def reading(render, history, cursor=(0, 0), **options):
    """A fan-out whose reader stands at `cursor` (and reads nothing itself)."""
    fanout = EventFanout(history=history, render=render, grace_seconds=0, **options)
    fanout.reader.stand_at(Position("e", cursor))
    return fanout


def test_catching_up_sends_missed_changes_then_waiting_ones_in_order():
    """What the reader passed before a subscription began comes first, then what
    arrived while that was read, each once, in order."""
    missed = [change(n, f"/api/notes/{n}/") for n in (1, 2, 3)]
    app = App()
    fanout = reading(app.render, History(missed), cursor=(3, 0))
    recorder = Recorder()

    async def main():
        subscription = await fanout.subscribe(
            recorder, "/api/notes/", as_("anonymous"), after=Position("e", (1, 0))
        )
        await fanout.deliver(change(3, "/api/notes/3/"))  # read again meanwhile
        await fanout.deliver(change(4, "/api/notes/4/"))
        assert recorder.frames == []
        await fanout.catch_up(subscription)
        await fanout.deliver(change(5, "/api/notes/5/"))

    asyncio.run(main())
    assert recorder.urls == [f"/api/notes/{n}/" for n in (2, 3, 4, 5)]


def test_a_subscription_ends_when_its_token_expires_unless_renewed():
    """Subscribed with a token about to expire, a subscriber is told
    `unsubscribed` (401) once it has; subscribing again with a later token (as a
    renewal does) keeps it listening."""
    app = App()
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    fanout.reader.stand_at(Position("e", (0, 0)))
    expiring, renewed = Recorder(), Recorder()
    start = Position("e", (0, 0))

    async def main():
        loop = asyncio.get_running_loop()
        now = time.time()
        for recorder, lifetime in [(expiring, 0.05), (renewed, 0.05), (renewed, 3600)]:
            subscription = await fanout.subscribe(
                recorder, "/api/notes/", as_("user:1", now + lifetime), after=start
            )
            await fanout.catch_up(subscription)
        ended = loop.create_future()
        expiring.send_text = lambda text: ended.set_result(json.loads(text))
        assert (await ended)["data"] == {"detail": EXPIRED}
        await fanout.deliver(change(1, "/api/notes/1/"))

    asyncio.run(main())
    assert renewed.events == [("updated", "/api/notes/1/")]
    assert not fanout.subscribed(expiring)


def test_a_change_that_could_not_be_recorded_resyncs_every_subscription():
    """A `resync` in the history tells each subscription to fetch again."""
    fanout, [listing, one] = fanout_with(
        App(), ("/api/notes/", "anonymous"), ("/api/notes/1/", "anonymous")
    )
    resync = _entry((b"9-0", {b"event": b'{"event": "resync"}'}), "e")
    assert isinstance(resync, Entry)
    deliver(fanout, resync)
    assert listing.frames == [{"event": "resync", "url": "/api/notes/"}]
    assert one.frames == [{"event": "resync", "url": "/api/notes/1/"}]


def test_subscribers_catching_up_together_share_each_render():
    """After a deploy every socket resumes at once: each missed change is read
    once per identity, not once per socket."""
    missed = [change(n, f"/api/notes/{n}/") for n in (1, 2, 3)]
    app = App()
    fanout = reading(app.render, History(missed), cursor=(3, 0))
    recorders = [Recorder() for _ in range(20)]

    async def main():
        subscriptions = [
            await fanout.subscribe(
                recorder, "/api/notes/", as_("anonymous"), after=Position("e", START)
            )
            for recorder in recorders
        ]
        await asyncio.gather(*map(fanout.catch_up, subscriptions))

    asyncio.run(main())
    assert len(app.renders) == 3
    assert all(len(recorder.frames) == 3 for recorder in recorders)


def in_cohort(identity, cohort, expires=None):
    """Credentials of `identity` in the snippets' `cohort`."""
    return replace(as_(identity, expires), cohort=f"notes.note:{cohort}")


def test_a_cohort_shares_one_render_but_the_identities_a_change_concerns_do_not():
    """Fifty users of one cohort cost one render of a change; its owner, whom the
    change names, gets a render of its own; an identity with no cohort too."""
    app = App()
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    crowd = [Recorder() for _ in range(50)]
    for number, recorder in enumerate(crowd):
        add(fanout, recorder, "/api/notes/", in_cohort(f"user:{number}", "all"))
    loner = Recorder()
    add(fanout, loner, "/api/notes/", as_("user:99"))
    deliver(fanout, change(1, "/api/notes/1/", concerned=["user:7"]))
    assert len(app.renders) == 3
    assert ("/api/notes/1/", "user:7") in app.renders
    assert ("/api/notes/1/", "user:99") in app.renders
    assert crowd[7].frames[0]["data"] == {"as": "user:7"}
    assert loner.frames[0]["data"] == {"as": "user:99"}
    shared = {json.dumps(r.frames) for n, r in enumerate(crowd) if n != 7}
    assert len(shared) == 1


def test_ended_credentials_end_only_their_identity_in_a_cohort():
    """A cohort's render answered 401 ends the subscriptions of the identity
    whose credentials it used; the change is rendered again for the rest."""

    class Revoked(App):
        async def render(self, entry, credentials, *, queries=(), replay=False):
            answer = await super().render(entry, credentials)
            return (
                {**answer, "status": 401}
                if credentials.identity == "user:1"
                else answer
            )

    app = Revoked()
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    ended, kept = Recorder(), Recorder()
    later = time.time() + 3600  # renders try the longest-lived credentials first
    add(fanout, ended, "/api/notes/", in_cohort("user:1", "all", later))
    add(fanout, kept, "/api/notes/", in_cohort("user:2", "all", later - 1))
    deliver(fanout, change(1, "/api/notes/1/"))
    assert ended.events == [("unsubscribed", "/api/notes/")]
    assert kept.events == [("updated", "/api/notes/1/")]


def record(number, event, **fields):
    """A record that is no change (a revocation, a rights change)."""
    text = json.dumps({"event": event, **fields})
    return _entry((f"{number}-0".encode(), {b"event": text}), "e")


def test_a_render_that_names_another_cohort_is_not_shared_nor_kept():
    """The member whose credentials rendered for the cohort now belongs to
    another (it was promoted): each member is shown the change by a render of
    its own, and the render is not kept for replays."""
    later = time.time() + 3600
    app = App(
        visible={"user:1": set()},  # its GET refuses the (private) snippet
        before={"user:1": set(), "user:2": set()},
        cohorts={"user:2": "notes.note:staff"},
    )
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    plain, promoted = Recorder(), Recorder()
    add(fanout, plain, "/api/notes/", in_cohort("user:1", "everyone", later - 1))
    add(fanout, promoted, "/api/notes/", in_cohort("user:2", "everyone", later))
    deliver(fanout, change(1, "/api/notes/1/", "created"))
    assert plain.frames == []
    assert promoted.events == [("created", "/api/notes/1/")]
    # The cohort's render (by user:2, the longest-lived), then one per identity.
    assert sorted(app.renders) == [
        ("/api/notes/1/", "user:1"),
        ("/api/notes/1/", "user:2"),
        ("/api/notes/1/", "user:2"),
    ]
    assert all(key.startswith("user:") for _, (key, _) in fanout.renders._kept)


def test_a_rights_change_not_yet_read_is_heard_before_a_render_is_shared():
    """A member whose rights began changing (a record the reader has not
    reached) is shown the change by a render of its own, at once."""
    later = time.time() + 3600
    demoting = record(2, "rights-changing", identity="user:1")
    # Demoted, user:1's GET refuses the new (private) snippet.
    app = App(visible={"user:1": set()}, before={"user:1": set(), "user:2": set()})
    fanout = reading(app.render, History([demoting]), cursor=(1, 0))
    demoted, staff = Recorder(), Recorder()
    add(fanout, demoted, "/api/notes/", in_cohort("user:1", "staff", later - 1))
    add(fanout, staff, "/api/notes/", in_cohort("user:2", "staff", later))
    deliver(fanout, change(1, "/api/notes/1/", "created"))
    assert demoted.frames == []
    assert staff.events == [("created", "/api/notes/1/")]


def test_a_committed_rights_change_asks_that_identity_to_refetch():
    """`rights-changed` tells each subscription of that identity to refetch;
    others hear nothing."""
    fanout, [changed, other] = fanout_with(
        App(), ("/api/notes/", "user:1"), ("/api/notes/", "user:2")
    )
    deliver(
        fanout,
        record(1, "rights-changing", identity="user:1"),
        record(2, "rights-changed", identity="user:1"),
    )
    assert changed.frames == [{"event": "resync", "url": "/api/notes/"}]
    assert other.frames == []


def test_a_subscription_made_before_a_rights_change_renders_alone():
    """Subscribed with a snapshot from before a rights change it has heard of, a
    subscriber shares no render (its GET may have raced the change)."""
    fanout = reading(App().render, History(), cursor=(5, 0))
    deliver(fanout, record(4, "rights-changing", identity="user:1"))

    async def main():
        recorder = Recorder()
        before = in_cohort("user:1", "everyone")
        subscription = await fanout.subscribe(
            recorder, "/api/notes/", before, after=Position("e", (3, 0))
        )
        return subscription.credentials.cohort

    assert asyncio.run(main()) is None


def test_a_cohort_applies_to_the_model_that_named_it():
    """A change to another model's resource under the cohort's path (a fork's
    comments under a snippet) is rendered per identity."""
    app = App()
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    for number in range(3):
        credentials = in_cohort(f"user:{number}", "everyone")
        add(fanout, Recorder(), "/api/notes/", credentials)
    deliver(fanout, change(1, "/api/notes/1/comments/2/", model="notes.comment"))
    assert len(app.renders) == 3


def test_a_sign_out_ends_only_the_subscriptions_of_its_session():
    """A revocation naming a session ends the subscriptions made in it; the same
    user's other sessions keep theirs."""
    fanout = EventFanout(history=History(), render=App().render, grace_seconds=0)
    signed_out, elsewhere = Recorder(), Recorder()
    add(fanout, signed_out, "/api/", replace(as_("user:1"), session="a"))
    add(fanout, elsewhere, "/api/", replace(as_("user:1"), session="b"))
    deliver(fanout, record(1, "revoked", identity="user:1", session="a"))
    assert signed_out.events == [("unsubscribed", "/api/")]
    assert elsewhere.frames == []


def test_kept_renders_are_bounded_in_bytes_oldest_dropped_first():
    """However many changes are rendered, what is kept stays under its bound;
    the newest stay."""
    big = "x" * 10_000

    class Large(App):
        async def render(self, entry, credentials, *, queries=(), replay=False):
            return {"status": 200, "headers": {}, "data": {"code": big}}

    # Room for four and a half such renders, counted with their encodings.
    bound = int(4.5 * (len(big) * COPIES_PER_FRAME + OVERHEAD_BYTES))
    fanout = EventFanout(
        history=History(),
        render=Large().render,
        grace_seconds=0,
        render_cache_bytes=bound,
    )
    add(fanout, Recorder(), "/api/notes/", as_("anonymous"))
    deliver(fanout, *[change(n, f"/api/notes/{n}/") for n in range(1, 101)])
    assert 0 < fanout.renders.bytes <= bound
    assert len(fanout.renders) == 4
    assert list(fanout.renders._kept) == [
        ((n, 0), ("anonymous", ())) for n in (97, 98, 99, 100)
    ]


def test_a_replay_renders_again_a_change_its_resource_has_changed_since():
    """A render is kept only while its resource has not changed since: a
    subscriber resuming after a snippet was made private is shown it as it is
    now, not as it was (when its code was public)."""
    url = "/api/notes/1/"
    made_public = change(1, url, "created")
    made_private = change(2, url, "updated")
    app = App(before={"anonymous": set()})
    fanout = reading(app.render, History([made_public, made_private]), cursor=(2, 0))
    live, resuming = Recorder(), Recorder()
    add(fanout, live, "/api/notes/", as_("anonymous"))

    async def main():
        await fanout.deliver(made_public)  # rendered while public: kept
        app.visible = {"anonymous": set()}  # then it turned private
        app.before = {}
        await fanout.deliver(made_private)
        subscription = await fanout.subscribe(
            resuming, "/api/notes/", as_("anonymous"), after=Position("e", START)
        )
        await fanout.catch_up(subscription)

    asyncio.run(main())
    assert live.events == [("created", url), ("deleted", url)]
    assert set(resuming.events) == {("deleted", url)}  # never its content
    # The first change rendered again; the second's render is current: shared.
    assert app.renders.count((url, "anonymous")) == 3


def test_a_resume_further_behind_than_allowed_is_refused():
    """More missed changes than `most`: no subscription (the caller sends a
    snapshot), and nothing is rendered."""
    missed = [change(n, f"/api/notes/{n}/") for n in (1, 2, 3)]
    app = App()
    fanout = reading(app.render, History(missed), cursor=(3, 0))

    async def subscribe(most):
        return await fanout.subscribe(
            Recorder(),
            "/api/notes/",
            as_("anonymous"),
            after=Position("e", START),
            most=most,
        )

    assert asyncio.run(subscribe(2)) is None
    assert not fanout.registry and app.renders == []
    assert asyncio.run(subscribe(3)) is not None


def test_replays_take_turns_and_are_marked_as_the_subscriber_s_requests():
    """However many subscribers catch up at once, no more than `replays_at_once`
    replays are rendered at a time, each marked a replay (throttled as the
    subscriber's own request); live renders are not."""
    missed = [change(n, f"/api/notes/{n}/") for n in range(1, 6)]
    running, most_at_once, marks = 0, 0, []

    async def render(entry, credentials, *, queries=(), replay=False):
        nonlocal running, most_at_once
        marks.append(replay)
        running += replay
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(0)
        running -= replay
        return {"status": 200, "headers": {}, "data": {}}

    fanout = reading(render, History(missed), cursor=(5, 0), replays_at_once=2)

    async def main():
        subscriptions = [
            await fanout.subscribe(
                Recorder(),
                "/api/notes/",
                as_(f"user:{n}"),
                after=Position("e", START),
            )
            for n in range(10)
        ]
        await asyncio.gather(*map(fanout.catch_up, subscriptions))
        await fanout.deliver(change(6, "/api/notes/6/"))

    asyncio.run(main())
    assert most_at_once == 2
    assert marks == [True] * 50 + [False] * 10


def test_a_replay_that_cannot_be_shown_asks_for_a_refetch_once():
    """Over its throttle (429), a resuming subscriber is asked to refetch, once,
    and hears the changes after it live."""
    missed = [change(n, f"/api/notes/{n}/") for n in (1, 2, 3)]

    async def render(entry, credentials, *, queries=(), replay=False):
        return {"status": 429 if replay else 200, "headers": {}, "data": {}}

    fanout = reading(render, History(missed), cursor=(3, 0))
    recorder = Recorder()

    async def main():
        subscription = await fanout.subscribe(
            recorder, "/api/notes/", as_("anonymous"), after=Position("e", START)
        )
        await fanout.catch_up(subscription)
        await fanout.deliver(change(4, "/api/notes/4/"))

    asyncio.run(main())
    assert recorder.events == [
        ("resync", "/api/notes/"),
        ("updated", "/api/notes/4/"),
    ]


class FilteringApp(App):
    """Says of each filtered list asked about whether the resource was and is
    in it: `shown` the queries whose list holds it now, `held` those that held
    it before, `unknown` those that cannot tell; the resource itself is shown
    to everyone, and was visible before."""

    def __init__(self, shown=(), held=(), unknown=()):
        super().__init__()
        self.shown, self.held, self.unknown = set(shown), set(held), set(unknown)
        self.asked = []

    async def render(self, entry, credentials, *, queries=(), replay=False):
        self.asked.append(queries)
        answer = await super().render(entry, credentials)
        membership = {
            query: [
                None if query in self.unknown else query in self.held,
                query in self.shown,
            ]
            for query in queries
        }
        answer["headers"]["Live-Filters"] = json.dumps(membership)
        return answer


def test_filtered_lists_are_asked_about_in_the_one_render_and_named():
    """One render for every filter of a cohort (its parameters in any order are
    one filter), and each event names the subscription as it subscribed."""
    app = FilteringApp(shown={"a=1", "a=1&b=2"}, held={"a=1&b=2", "c=3"})
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    urls = ["/api/notes/?a=1", "/api/notes/?b=2&a=1", "/api/notes/?a=1&b=2"]
    urls += ["/api/notes/?c=3", "/api/notes/?d=4", "/api/notes/"]
    recorders = {url: Recorder() for url in urls}
    for url, recorder in recorders.items():
        add(fanout, recorder, url, as_("anonymous"))
    deliver(fanout, change(1, "/api/notes/1/"))
    assert app.asked == [("a=1", "a=1&b=2", "c=3", "d=4")]
    heard = {
        url: [(f["event"], f.get("subscription")) for f in recorder.frames]
        for url, recorder in recorders.items()
    }
    assert heard == {
        "/api/notes/?a=1": [("created", "/api/notes/?a=1")],  # entered
        "/api/notes/?b=2&a=1": [("updated", "/api/notes/?b=2&a=1")],  # stayed
        "/api/notes/?a=1&b=2": [("updated", "/api/notes/?a=1&b=2")],
        "/api/notes/?c=3": [("deleted", "/api/notes/?c=3")],  # left
        "/api/notes/?d=4": [],  # never in it
        "/api/notes/": [("updated", None)],
    }


def test_a_filter_that_cannot_tell_asks_its_subscribers_to_refetch():
    """Whether the resource was in a filtered list before is never guessed."""
    app = FilteringApp(shown={"x=1"}, unknown={"x=1"})
    fanout = EventFanout(history=History(), render=app.render, grace_seconds=0)
    filtered, whole = Recorder(), Recorder()
    add(fanout, filtered, "/api/notes/?x=1", as_("anonymous"))
    add(fanout, whole, "/api/notes/", as_("anonymous"))
    deliver(fanout, change(1, "/api/notes/1/"))
    assert filtered.frames == [
        {"event": "resync", "url": "/api/notes/", "subscription": "/api/notes/?x=1"}
    ]
    assert whole.events == [("updated", "/api/notes/1/")]
