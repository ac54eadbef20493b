"""
Conditional requests, alike over HTTP and WebSocket: an `ETag` on every GET,
`304` with no body for a copy that is current (`If-None-Match`), `412` for an
edit of a version that has changed (`If-Match`), decided in the write's own
transaction so that of two editors who read the same version only one wins; and
the events a subscriber hears carry the resource's ETag.
"""

import threading

import pytest
import requests
from websockets.sync.client import connect

from live.testing import new_user, next_event, request, subscribe
from snippets.models import Snippet
from tests.conftest import server_sharing_history, server_token

pytestmark = pytest.mark.django_db(transaction=True)

server, shared_prefix = server_sharing_history("conditional")


@pytest.fixture
def owned():
    """A snippet, its URL, and its owner's token."""
    owner = new_user("owner")
    snippet = Snippet.objects.create(title="t", code="1", owner=owner)
    return snippet, f"/api/snippets/{snippet.pk}/", server_token(owner)


def over_http(server, method, url, token=None, data=None, **headers):
    """`(status, headers, body)` of a request over HTTP."""
    if token:
        headers["Authorization"] = f"JWT {token}"
    response = requests.request(method, server.url + url, json=data, headers=headers)
    body = response.json() if response.content else None
    return response.status_code, response.headers, body


def over_websocket(server, method, url, token=None, data=None, **headers):
    """`(status, headers, body)` of the same request in a frame."""
    fields = {"headers": headers}
    if token:
        fields["token"] = token
    if data is not None:
        fields["data"] = data
    with connect(server.ws_url) as ws:
        reply = request(ws, url, method=method, **fields)
    return reply["status"], reply["headers"], reply.get("data")


TRANSPORTS = [over_http, over_websocket]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("url", ["/api/snippets/", "/api/users/", "{detail}"])
def test_a_get_is_tagged_and_a_current_copy_is_not_sent_again(
    server, owned, transport, url
):
    url = url.format(detail=owned[1])
    status, headers, _ = transport(server, "GET", url)
    assert status == 200
    tag = headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')  # strong
    status, headers, body = transport(server, "GET", url, **{"If-None-Match": tag})
    assert (status, headers["ETag"], body) == (304, tag, None)
    # Another of the owner's snippets: every list (the owner's user) changes.
    Snippet.objects.create(title="another", code="1", owner=owned[0].owner)
    owned[0].title = "changed"
    owned[0].save()
    status, headers, _ = transport(server, "GET", url, **{"If-None-Match": tag})
    assert status == 200 and headers["ETag"] != tag


def test_both_transports_give_the_same_tag(server, owned):
    assert (
        over_http(server, "GET", owned[1])[1]["ETag"]
        == (over_websocket(server, "GET", owned[1])[1]["ETag"])
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "method, data",
    [("PATCH", {"title": "mine"}), ("PUT", {"title": "mine", "code": "2"})],
)
def test_an_edit_of_the_version_read_passes_a_stale_one_is_412(
    server, owned, transport, method, data
):
    _, url, token = owned
    tag = transport(server, "GET", url)[1]["ETag"]
    status, headers, body = transport(
        server, method, url, token, data, **{"If-Match": tag}
    )
    assert status == 200
    # The version it wrote, as a GET tags it.
    assert headers["ETag"] == transport(server, "GET", url)[1]["ETag"] != tag
    status, _, body = transport(server, method, url, token, data, **{"If-Match": tag})
    assert status == 412
    assert body == {
        "detail": "It changed since you read it: GET it again for its ETag."
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_delete_honours_if_match(server, owned, transport):
    _, url, token = owned
    tag = transport(server, "GET", url)[1]["ETag"]
    for stale in ['"0"', f"W/{tag}"]:  # another version; a weak tag never matches
        assert transport(server, "DELETE", url, token, **{"If-Match": stale})[0] == 412
    assert (
        transport(server, "DELETE", url, token, **{"If-Match": f'"0", {tag}'})[0] == 204
    )


def test_if_match_any_version_needs_the_resource(server, owned):
    _, url, token = owned
    assert (
        over_http(server, "PATCH", url, token, {"title": "x"}, **{"If-Match": "*"})[0]
        == 200
    )
    Snippet.objects.filter(pk=owned[0].pk).delete()
    assert (
        over_http(server, "PATCH", url, token, {"title": "x"}, **{"If-Match": "*"})[0]
        == 404
    )


def test_of_racing_editors_who_read_one_version_exactly_one_wins(server, owned):
    """Editors on both transports PATCH at once with the tag they read: one 200,
    every other 412, and the snippet holds the winner's title."""
    _, url, token = owned
    tag = over_http(server, "GET", url)[1]["ETag"]
    editors = 8
    start = threading.Barrier(editors)
    statuses = {}

    def edit(number):
        transport = TRANSPORTS[number % 2]
        start.wait()
        title = f"editor {number}"
        statuses[title] = transport(
            server, "PATCH", url, token, {"title": title}, **{"If-Match": tag}
        )[0]

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [200] + [412] * (editors - 1), statuses
    winner = next(title for title, status in statuses.items() if status == 200)
    assert over_http(server, "GET", url)[2]["title"] == winner


def test_events_carry_the_resource_s_current_tag(server, owned):
    snippet, url, _ = owned
    with connect(server.ws_url) as ws:
        subscribe(ws, url)
        snippet.title = "seen live"
        snippet.save()
        event = next_event(ws)
    assert event["etag"] == over_http(server, "GET", url)[1]["ETag"]
