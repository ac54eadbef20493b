"""Private snippets: seen by their owner and staff only, in every list, page and
count; anonymous snippets cannot be private."""

import json

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from rest_framework.test import APIClient

from live.conf import live_settings
from live.redis_client import get_redis
from live.views import readable_rows
from snippets.models import Snippet

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {
        "anonymous": None,
        "owner": User.objects.create_user("owner"),
        "other": User.objects.create_user("other"),
        "staff": User.objects.create_user("staff", is_staff=True),
    }


def client_of(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("who", "sees_private"),
    [("anonymous", False), ("owner", True), ("other", False), ("staff", True)],
)
def test_lists_counts_and_users_show_private_snippets_to_owner_and_staff(
    people, who, sees_private
):
    public = Snippet.objects.create(title="p", code="1", owner=people["owner"])
    private = Snippet.objects.create(
        title="s", code="1", owner=people["owner"], private=True
    )
    client = client_of(people[who])
    listing = client.get("/api/snippets/").json()
    owner = client.get(f"/api/users/{people['owner'].pk}/").json()
    everyone = client.get("/api/users/").json()["results"]
    expected = {public.pk, private.pk} if sees_private else {public.pk}
    assert {item["id"] for item in listing["results"]} == expected
    assert listing["count"] == len(expected)
    assert set(owner["snippets"]) == {f"/api/snippets/{pk}/" for pk in expected}
    [listed] = [user for user in everyone if user["id"] == people["owner"].pk]
    assert listed["snippets"] == owner["snippets"]


def test_anonymous_snippets_cannot_be_private(people):
    """Not created so, nor made so later, even by staff; the database agrees."""
    response = client_of(None).post(
        "/api/snippets/", {"title": "t", "code": "1", "private": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "private": ["Anonymous snippets cannot be private: sign in to make one."]
    }
    anonymous = Snippet.objects.create(title="t", code="1")
    response = client_of(people["staff"]).patch(
        f"/api/snippets/{anonymous.pk}/", {"private": True}, format="json"
    )
    assert response.status_code == 400
    anonymous.private = True
    with pytest.raises(ValidationError):  # as the admin's form checks it
        anonymous.full_clean()
    with pytest.raises(IntegrityError):
        anonymous.save()


def test_the_owner_makes_a_snippet_private_and_public_again(people):
    client = client_of(people["owner"])
    created = client.post(
        "/api/snippets/", {"title": "t", "code": "1", "private": True}, format="json"
    ).json()
    assert created["private"] is True
    url = created["url"]
    assert client_of(people["other"]).get(url).status_code == 404
    assert (
        client.patch(url, {"private": False}, format="json").json()["private"] is False
    )
    assert client_of(people["other"]).get(url).status_code == 200
    assert client_of(None).get(url).json()["private"] is False


def test_each_reader_gets_the_rows_of_their_own_rule_one_after_another(people):
    """The filtered queryset is built once per rule and shared: two users in
    turn, then the anonymous, each see exactly their own."""
    owner, other = people["owner"], people["other"]
    mine = Snippet.objects.create(title="m", code="1", owner=owner, private=True)
    theirs = Snippet.objects.create(title="t", code="1", owner=other, private=True)
    for _ in range(2):
        for user, own, foreign in [(owner, mine, theirs), (other, theirs, mine)]:
            client = client_of(user)
            assert client.get(f"/api/snippets/{own.pk}/").status_code == 200
            assert client.get(f"/api/snippets/{foreign.pk}/").status_code == 404
        anonymous = client_of(None)
        assert anonymous.get(f"/api/snippets/{mine.pk}/").status_code == 404
    cached = readable_rows.cache_info()
    assert cached.hits and cached.currsize >= 3


@pytest.mark.parametrize(
    ("who", "cohort"),
    [
        ("anonymous", "snippets.snippet:everyone"),
        ("owner", "snippets.snippet:everyone"),
        ("other", "snippets.snippet:everyone"),
        ("staff", "snippets.snippet:staff"),
    ],
)
def test_a_subscription_names_the_cohort_that_sees_snippets_alike(people, who, cohort):
    """Everyone but staff sees a snippet alike (unless it is their own, which
    its changes name): one render of a change serves them all."""
    subscribing = {"wsserver.subscribe": True}
    reply = client_of(people[who]).get("/api/snippets/", **subscribing)
    assert reply["Live-Cohort"] == cohort
    assert "Live-Cohort" not in client_of(people[who]).get("/api/snippets/")


def test_a_change_names_the_owner_it_concerns(
    people, settings, django_capture_on_commit_callbacks
):
    """The record of a change names whom it may show otherwise than their
    cohort: the owner, before and after; an anonymous snippet names no one."""
    with django_capture_on_commit_callbacks(execute=True):
        owned = Snippet.objects.create(title="o", code="1", owner=people["owner"])
        Snippet.objects.create(title="a", code="1")
        owned.delete()
    records = [
        json.loads(fields[b"event"])
        for _, fields in get_redis().xrange(live_settings.EVENTS_STREAM)
    ]
    owner = f"user:{people['owner'].pk}"
    assert [r["concerned"] for r in records] == [[owner], [], [owner]]
