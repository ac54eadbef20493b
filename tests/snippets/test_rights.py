"""
Rights that change while subscribed: a promotion, a demotion or an owner change
is heard by every subscriber as its own GET would show it, and a render shared
by a cohort is never one its members' GETs would refuse.
"""

import json
import time
import uuid

import pytest
from django.contrib.auth.models import Group, Permission
from websockets.sync.client import connect

from live.testing import new_user, receive, subscribed
from snippets.models import Snippet
from tests.conftest import server_sharing_history, server_token

pytestmark = pytest.mark.django_db(transaction=True)

server, shared_prefix = server_sharing_history("rights")
LIST = "/api/snippets/"


def token(who, *, lasting):
    """A token valid for `lasting` seconds: of a cohort's members, the one that
    lasts longest renders its changes."""
    return server_token(who, expires=int(time.time()) + lasting)


def heard_until_barrier(ws, barrier):
    """Every frame up to the barrier's change (made after everything else)."""
    frames = []
    while (frame := receive(ws)).get("url") != f"{LIST}{barrier.pk}/":
        frames.append(frame)
    return frames


def make_barrier():
    return Snippet.objects.create(title="barrier", code="barrier")


def test_a_promoted_member_never_renders_for_its_old_cohort(server):
    """Users X and P share a render; P, whose token lasts longer, is made staff;
    a private snippet of someone else's is created: X hears nothing of it."""
    x, p, owner = new_user("x"), new_user("p"), new_user("owner")
    with connect(server.ws_url) as plain, connect(server.ws_url) as promoted:
        subscribed(plain, LIST, token=token(x, lasting=600))
        subscribed(promoted, LIST, token=token(p, lasting=3600))
        p.is_staff = True
        p.save()
        Snippet.objects.create(title="t", code="secret", owner=owner, private=True)
        barrier = make_barrier()
        barrier.save()
        heard = heard_until_barrier(plain, barrier)
        assert "secret" not in json.dumps(heard)
        assert not [frame for frame in heard if frame.get("event") == "created"]


def test_a_demoted_member_no_longer_shares_staff_renders(server):
    """Staff D and T share a render; D is demoted; a private snippet is created:
    D hears nothing of it (it is told to refetch), while T hears it."""
    d = new_user("d", is_staff=True)
    t = new_user("t", is_staff=True)
    owner = new_user("owner")
    with connect(server.ws_url) as demoted, connect(server.ws_url) as staff:
        subscribed(demoted, LIST, token=token(d, lasting=600))
        subscribed(staff, LIST, token=token(t, lasting=3600))
        d.is_staff = False
        d.save()
        Snippet.objects.create(title="t", code="secret", owner=owner, private=True)
        barrier = make_barrier()
        barrier.save()
        heard = heard_until_barrier(demoted, barrier)
        assert "secret" not in json.dumps(heard)
        assert {"event": "resync", "url": LIST} in heard
        assert "secret" in json.dumps(heard_until_barrier(staff, barrier))


def test_a_promotion_is_followed_by_a_refetch_that_shows_more(server):
    """A promoted subscriber is told to refetch: its fresh snapshot holds the
    private snippets it may see now."""
    p, owner = new_user("p"), new_user("owner")
    hidden = Snippet.objects.create(title="t", code="1", owner=owner, private=True)
    with connect(server.ws_url) as ws:
        access = token(p, lasting=3600)
        subscribed(ws, LIST, token=access)
        p.is_staff = True
        p.save()
        assert receive(ws) == {"event": "resync", "url": LIST}
        snapshot = subscribed(ws, LIST, token=access)["data"]
        urls = [item["url"] for item in snapshot["results"]]
        assert f"{LIST}{hidden.pk}/" in urls


def make_superuser(someone):
    someone.is_superuser = True
    someone.save()


def add_to_a_group(someone):
    someone.groups.add(Group.objects.create(name=uuid.uuid4().hex))


def give_a_permission(someone):
    someone.user_permissions.add(Permission.objects.get(codename="change_snippet"))


def give_its_group_a_permission(someone):
    group = someone.groups.get()  # joined before subscribing
    group.permissions.add(Permission.objects.get(codename="change_snippet"))


@pytest.mark.parametrize(
    "change",
    [make_superuser, add_to_a_group, give_a_permission, give_its_group_a_permission],
)
def test_other_rights_changes_ask_for_a_refetch(server, change):
    """What a fork's rules may read (superuser, groups, permissions) changes
    its user's subscriptions as a promotion does."""
    someone = new_user("someone")
    someone.groups.add(Group.objects.create(name=uuid.uuid4().hex))
    access = token(someone, lasting=3600)
    with connect(server.ws_url) as ws:
        subscribed(ws, LIST, token=access)
        # Joining the group was a rights change too: once it is heard,
        # subscribe afresh.
        heard_until_barrier(ws, make_barrier())
        subscribed(ws, LIST, token=access)
        change(someone)
        assert receive(ws) == {"event": "resync", "url": LIST}


def test_owner_change_from_the_admin_is_heard_by_old_and_new_owner(server):
    """A private snippet given to another user (as the admin does) leaves the
    old owner's view (`deleted` with its id) and enters the new owner's."""
    old, new = new_user("old"), new_user("new")
    snippet = Snippet.objects.create(title="t", code="1", owner=old, private=True)
    url = f"{LIST}{snippet.pk}/"
    with connect(server.ws_url) as before, connect(server.ws_url) as after:
        subscribed(before, LIST, token=token(old, lasting=3600))
        subscribed(after, LIST, token=token(new, lasting=3600))
        snippet.owner = new
        snippet.save()
        left, entered = receive(before), receive(after)
        assert (left["event"], left["data"]) == (
            "deleted",
            {"id": snippet.pk, "url": url},
        )
        assert (entered["event"], entered["data"]["url"]) == ("created", url)


def test_a_resource_leaving_a_view_is_deleted_with_its_id(server):
    """Made private, a snippet leaves an anonymous subscriber's view as
    `deleted` with `id` and `url`, as when it is deleted."""
    owner = new_user("owner")
    snippet = Snippet.objects.create(title="t", code="1", owner=owner)
    with connect(server.ws_url) as ws:
        subscribed(ws, LIST, token=None)
        snippet.private = True
        snippet.save()
        heard = receive(ws)
        url = f"{LIST}{snippet.pk}/"
        assert (heard["event"], heard["data"]) == (
            "deleted",
            {"id": snippet.pk, "url": url},
        )
