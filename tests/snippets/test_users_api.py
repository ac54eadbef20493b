"""Users: listing, detail with snippets, and signing up."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from snippets.models import Snippet
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_up(username, password):
    return APIClient().post(
        "/api/users/", {"username": username, "password": password}, format="json"
    )


def test_sign_up_creates_a_user_without_echoing_the_password():
    """POST /api/users/ is 201 and never returns the password."""
    response = sign_up("alice", PASSWORD)
    assert response.status_code == 201
    assert response.json()["username"] == "alice"
    assert "password" not in response.json()
    assert User.objects.get(username="alice").check_password(PASSWORD)


@pytest.mark.parametrize(
    "password, message",
    [
        ("short", "too short"),
        ("password123", "too common"),
        ("83749216508", "entirely numeric"),
        ("alicealice", "too similar"),
    ],
)
def test_weak_password_is_400_naming_the_problem(password, message):
    """Django's password validators run on sign-up and say what is wrong."""
    response = sign_up("alicealice", password)
    assert response.status_code == 400
    assert any(message in text for text in response.json()["password"])


def test_duplicate_username_is_400():
    """A taken username is refused under `username`."""
    User.objects.create_user("alice", password="pw")
    response = sign_up("alice", PASSWORD)
    assert response.status_code == 400
    assert "username" in response.json()


def test_user_detail_lists_their_snippets():
    """A user's page links to each of their snippets."""
    user = User.objects.create_user("alice", password="pw")
    snippet = Snippet.objects.create(title="t", code="1", owner=user)
    response = APIClient().get(f"/api/users/{user.pk}/")
    assert response.status_code == 200
    assert response.json()["snippets"] == [f"/api/snippets/{snippet.pk}/"]


def test_user_list_is_paginated():
    """GET /api/users/ lists users in DRF's page shape, without passwords."""
    User.objects.create_user("alice", password="pw")
    body = APIClient().get("/api/users/").json()
    assert body["count"] == 1
    assert set(body["results"][0]) == {"url", "id", "username", "snippets"}


def test_users_cannot_be_changed_through_the_api():
    """There is no PUT or DELETE on users."""
    user = User.objects.create_user("alice", password="pw")
    client = APIClient()
    client.force_authenticate(user)
    assert client.delete(f"/api/users/{user.pk}/").status_code == 405
