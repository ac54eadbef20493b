"""
The permission matrix: anonymous, owner, other user and staff against every
snippet action, on an owned and on an anonymous snippet.

Anyone reads and creates; only the owner or staff change or delete; nobody but
staff changes an anonymous snippet. No credentials is 401, not enough is 403. A
private snippet does not exist for anyone but its owner and staff: 404.
"""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from snippets.models import Snippet

pytestmark = pytest.mark.django_db

ACTIONS = {
    "list": ("get", "/api/snippets/", None),
    "retrieve": ("get", "/api/snippets/{pk}/", None),
    "highlight": ("get", "/api/snippets/{pk}/highlight/", None),
    "create": ("post", "/api/snippets/", {"title": "new", "code": "1"}),
    "update": ("put", "/api/snippets/{pk}/", {"title": "put", "code": "2"}),
    "partial_update": ("patch", "/api/snippets/{pk}/", {"title": "patched"}),
    "delete": ("delete", "/api/snippets/{pk}/", None),
}
READS = {"list": 200, "retrieve": 200, "highlight": 200, "create": 201}
WRITES = {"update": 200, "partial_update": 200, "delete": 204}

# Expected status for (who, action) on a snippet owned by "owner".
OWNED = {
    "anonymous": {**READS, "update": 401, "partial_update": 401, "delete": 401},
    "owner": {**READS, **WRITES},
    "other": {**READS, "update": 403, "partial_update": 403, "delete": 403},
    "staff": {**READS, **WRITES},
}
# Expected status for (who, action) on an anonymous snippet (no owner).
UNOWNED = {
    "anonymous": OWNED["anonymous"],
    "owner": OWNED["other"],
    "other": OWNED["other"],
    "staff": {**READS, **WRITES},
}
HIDDEN = dict.fromkeys(["retrieve", "highlight", *WRITES], 404)
# Expected status for (who, action) on a private snippet owned by "owner".
PRIVATE = {
    "anonymous": {**READS, **HIDDEN},
    "owner": OWNED["owner"],
    "other": {**READS, **HIDDEN},
    "staff": OWNED["staff"],
}


@pytest.fixture
def users():
    return {
        "owner": User.objects.create_user("owner", password="pw"),
        "other": User.objects.create_user("other", password="pw"),
        "staff": User.objects.create_user("staff", password="pw", is_staff=True),
    }


def request_as(who, users, action, snippet):
    client = APIClient()
    if who != "anonymous":
        client.force_authenticate(users[who])
    method, url, data = ACTIONS[action]
    return getattr(client, method)(url.format(pk=snippet.pk), data, format="json")


def matrix(expected):
    return [
        pytest.param(who, action, status, id=f"{who}-{action}")
        for who, statuses in expected.items()
        for action, status in statuses.items()
    ]


@pytest.mark.parametrize("who, action, status", matrix(OWNED))
def test_owned_snippet_permissions(users, who, action, status):
    """Each role gets the expected status on a snippet someone owns."""
    snippet = Snippet.objects.create(title="t", code="1", owner=users["owner"])
    assert request_as(who, users, action, snippet).status_code == status


@pytest.mark.parametrize("who, action, status", matrix(UNOWNED))
def test_anonymous_snippet_permissions(users, who, action, status):
    """Each role gets the expected status on an anonymous snippet."""
    snippet = Snippet.objects.create(title="t", code="1")
    assert request_as(who, users, action, snippet).status_code == status


@pytest.mark.parametrize("who, action, status", matrix(PRIVATE))
def test_private_snippet_permissions(users, who, action, status):
    """Each role gets the expected status on a private snippet someone owns."""
    snippet = Snippet.objects.create(
        title="t", code="1", owner=users["owner"], private=True
    )
    assert request_as(who, users, action, snippet).status_code == status


def test_refused_change_leaves_the_snippet_unchanged(users):
    """A 403 changes nothing."""
    snippet = Snippet.objects.create(title="t", code="1", owner=users["owner"])
    request_as("other", users, "partial_update", snippet)
    snippet.refresh_from_db()
    assert snippet.title == "t"


def test_missing_credentials_401_says_how_to_authenticate(users):
    """A 401 names the token scheme in WWW-Authenticate."""
    snippet = Snippet.objects.create(title="t", code="1", owner=users["owner"])
    response = request_as("anonymous", users, "delete", snippet)
    assert response["WWW-Authenticate"] == 'JWT realm="api"'


def test_create_can_require_sign_in(settings, users):
    """With SNIPPET_CREATE_REQUIRES_LOGIN, anonymous creation is 401."""
    settings.SNIPPET_CREATE_REQUIRES_LOGIN = True
    snippet = Snippet.objects.create(title="t", code="1")
    assert request_as("anonymous", users, "create", snippet).status_code == 401
    assert request_as("other", users, "create", snippet).status_code == 201
