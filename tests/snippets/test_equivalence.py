"""
One API, two transports: for every endpoint, method and auth state, the
WebSocket reply has the status, body and middleware headers of the HTTP response
from the same server.
"""

import json

import pytest
import requests
from django.contrib.auth.models import User
from websockets.sync.client import connect

from snippets.models import Snippet
from tests.conftest import PASSWORD, server_token
from tests.contract import validate_reply

pytestmark = pytest.mark.django_db(transaction=True)

# Headers that views and middleware decide; both transports must agree on them.
COMPARED_HEADERS = [
    "Content-Type",
    "Allow",
    "Vary",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "WWW-Authenticate",
    "Content-Security-Policy",
    "Retry-After",
]
# Fields that differ between two otherwise identical snippets.
VOLATILE_FIELDS = {"id", "url", "highlight", "created"}

CASES = [
    # (who, method, url, data); {pk} is a snippet owned by "owner", {private}
    # a private one of theirs.
    ("anonymous", "GET", "/api/", None),
    ("anonymous", "GET", "/api/snippets/", None),
    ("anonymous", "GET", "/api/snippets/", {"page": 1}),
    ("anonymous", "GET", "/api/snippets/", {"page": 99}),
    ("anonymous", "GET", "/api/snippets/", {"language": "python", "search": "own"}),
    ("anonymous", "GET", "/api/snippets/", {"owner": "owner", "private": "false"}),
    ("anonymous", "GET", "/api/snippets/", {"language": "nope"}),
    ("anonymous", "GET", "/api/snippets/", {"private": "maybe"}),
    ("owner", "GET", "/api/snippets/", {"private": "true"}),
    ("other", "GET", "/api/snippets/", {"private": "true"}),
    ("anonymous", "GET", "/api/snippets/{pk}/", None),
    ("anonymous", "GET", "/api/snippets/{pk}/highlight/", None),
    ("anonymous", "GET", "/api/snippets/999999/", None),
    ("anonymous", "HEAD", "/api/snippets/{pk}/", None),
    ("anonymous", "OPTIONS", "/api/snippets/", None),
    ("anonymous", "GET", "/api/users/", None),
    ("anonymous", "GET", "/api/users/{owner_id}/", None),
    ("anonymous", "GET", "/healthz", None),
    ("anonymous", "GET", "/api/schema/", None),
    ("anonymous", "GET", "/no/such/page/", None),
    ("anonymous", "POST", "/api/snippets/", {"title": "t", "code": "1"}),
    ("anonymous", "POST", "/api/snippets/", {"title": "t"}),
    ("anonymous", "POST", "/api/snippets/", {"code": "1", "language": "nope"}),
    ("anonymous", "PUT", "/api/snippets/{pk}/", {"title": "p", "code": "2"}),
    ("anonymous", "PATCH", "/api/snippets/{pk}/", {"title": "p"}),
    ("anonymous", "DELETE", "/api/snippets/{pk}/", None),
    ("anonymous", "POST", "/api/users/", {"username": "user-{n}", "password": "short"}),
    (
        "anonymous",
        "POST",
        "/api/users/",
        {"username": "user-{n}", "password": PASSWORD},
    ),
    ("anonymous", "POST", "/api/auth/token/", {"username": "x", "password": "y"}),
    ("anonymous", "POST", "/api/auth/token/verify/", {"token": "bad"}),
    ("anonymous", "DELETE", "/api/users/{owner_id}/", None),
    ("owner", "GET", "/api/snippets/{pk}/", None),
    ("owner", "POST", "/api/snippets/", {"title": "mine", "code": "1"}),
    ("owner", "PUT", "/api/snippets/{pk}/", {"title": "p", "code": "2"}),
    ("owner", "PATCH", "/api/snippets/{pk}/", {"linenos": True}),
    ("owner", "PATCH", "/api/snippets/{pk}/", {"style": "nope"}),
    ("owner", "DELETE", "/api/snippets/{pk}/", None),
    ("other", "PUT", "/api/snippets/{pk}/", {"title": "p", "code": "2"}),
    ("other", "PATCH", "/api/snippets/{pk}/", {"title": "p"}),
    ("other", "DELETE", "/api/snippets/{pk}/", None),
    ("staff", "PATCH", "/api/snippets/{pk}/", {"title": "staff"}),
    ("staff", "DELETE", "/api/snippets/{pk}/", None),
    ("anonymous", "GET", "/api/snippets/{private}/", None),
    (
        "anonymous",
        "POST",
        "/api/snippets/",
        {"title": "t", "code": "1", "private": True},
    ),
    ("other", "GET", "/api/snippets/{private}/", None),
    ("other", "GET", "/api/snippets/{private}/highlight/", None),
    ("other", "PATCH", "/api/snippets/{private}/", {"private": False}),
    ("other", "GET", "/api/users/{owner_id}/", None),
    ("other", "GET", "/api/snippets/", None),
    ("owner", "GET", "/api/snippets/{private}/", None),
    ("owner", "GET", "/api/users/{owner_id}/", None),
    ("owner", "POST", "/api/snippets/", {"title": "t", "code": "1", "private": True}),
    ("owner", "PATCH", "/api/snippets/{pk}/", {"private": True}),
    ("staff", "GET", "/api/snippets/{private}/", None),
    ("staff", "PATCH", "/api/snippets/{private}/", {"private": False}),
    ("bad-token", "GET", "/api/snippets/", None),
    ("bad-token", "POST", "/api/snippets/", {"title": "t", "code": "1"}),
]


@pytest.fixture
def users():
    """Tokens and ids of an owner, another user and a staff member."""
    result = {"anonymous": (None, None), "bad-token": ("not-a-valid-token", None)}
    for role in ("owner", "other", "staff"):
        user = User.objects.create_user(role, is_staff=role == "staff")
        result[role] = (server_token(user), user.pk)
    return result


def fill(template, snippets, owner_id, number):
    if isinstance(template, dict):
        return {k: fill(v, snippets, owner_id, number) for k, v in template.items()}
    if isinstance(template, str):
        public, private = snippets
        return template.format(
            pk=public.pk, private=private.pk, owner_id=owner_id, n=number
        )
    return template


def over_http(server, *, method, url, data, token):
    headers = {"Authorization": f"JWT {token}"} if token else {}
    query = method in ("GET", "HEAD", "DELETE")
    response = requests.request(
        method,
        server.url + url,
        params=data if query else None,
        json=None if query else data,
        headers=headers,
        allow_redirects=False,
    )
    body = response.content
    content_type = response.headers.get("Content-Type", "")
    if not body:
        parsed = None
    elif content_type.startswith("application/") and "json" in content_type:
        parsed = response.json()
    else:
        parsed = response.text
    return response.status_code, response.headers, parsed


def over_websocket(server, *, method, url, data, token):
    message = {"id": 1, "method": method, "url": url}
    if data is not None:
        message["data"] = data
    if token:
        message["token"] = token
    with connect(server.ws_url, max_size=None) as ws:
        ws.send(json.dumps(message))
        reply = json.loads(ws.recv(timeout=10))
    # The reply is what the AsyncAPI document says (if it is an operation).
    validate_reply(method, url, reply)
    return reply["status"], reply["headers"], reply.get("data")


def comparable(body):
    """The body without fields that differ between two equal snippets."""
    if isinstance(body, dict):
        return {
            key: comparable(value)
            for key, value in body.items()
            if key not in VOLATILE_FIELDS
        }
    if isinstance(body, list):
        return [comparable(item) for item in body]
    return body


@pytest.mark.parametrize(
    "who, method, url, data",
    CASES,
    ids=[f"{who}-{method}-{url}-{i}" for i, (who, method, url, _) in enumerate(CASES)],
)
def test_websocket_reply_equals_http_response(
    web_server, users, who, method, url, data
):
    """Same request, same status, body and middleware headers on both transports."""
    owner_id = users["owner"][1]
    # A snippet of its own for each transport (a DELETE must find its own), both
    # made first so that lists read the same on both.
    snippets = [
        [
            Snippet.objects.create(
                title="owned", code="def f(): pass", owner_id=owner_id, private=private
            )
            for private in (False, True)
        ]
        for _ in range(2)
    ]
    results = [
        transport(
            web_server,
            method=method,
            url=fill(url, snippet, owner_id, number),
            data=fill(data, snippet, owner_id, number),
            token=users[who][0],
        )
        for transport, snippet, number in zip(
            (over_http, over_websocket), snippets, ("http", "ws"), strict=True
        )
    ]
    (http_status, http_headers, http_body), (ws_status, ws_headers, ws_body) = results
    if users[who][0] and who != "bad-token":
        assert http_status != 401, "the test's own token must be accepted"
    assert ws_status == http_status
    # Sign-up echoes the username, which differs by transport.
    ws_body = json.loads(json.dumps(ws_body).replace("user-ws", "user-http"))
    assert comparable(ws_body) == comparable(http_body)
    ws_headers = requests.structures.CaseInsensitiveDict(ws_headers)
    compared = COMPARED_HEADERS
    if http_body is None:
        # Tornado's WSGI container labels even an empty 204 as text/html.
        compared = [name for name in compared if name != "Content-Type"]
    for name in compared:
        assert ws_headers.get(name) == http_headers.get(name), name
