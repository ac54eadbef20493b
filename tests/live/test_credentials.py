"""
Subscriptions last as long as the credentials they were made with: a token's
expiry (unless renewed on the same connection), a sign-out, a password change
or a deactivation ends them with `unsubscribed` (401), on every process. The
subscribers listen on one process; the credentials end on another.
"""

import json
import time

import pytest
import requests
from websockets.sync.client import connect

from live.testing import new_user, next_event, receive, subscribed
from tests.conftest import (
    PASSWORD,
    EventStream,
    SharedHistory,
    server_token,
)
from tests.notes.models import Note

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/notes/"

history = SharedHistory("credentials")
# No grace: a subscription ends as its token does.
subscriber_server = history.server(WS_TOKEN_GRACE_SECONDS=0)
writer_server = history.server()
shared_prefix = history.recorded_here()


@pytest.fixture
def user():
    return new_user("user", password=PASSWORD)


def assert_unsubscribed(frame, detail=None):
    assert frame["event"] == "unsubscribed"
    assert frame["url"] == LIST
    assert frame["status"] == 401
    if detail:
        assert detail in frame["data"]["detail"]


def test_a_subscription_ends_when_its_token_expires(subscriber_server, user):
    with connect(subscriber_server.ws_url) as ws:
        subscribed(ws, LIST, token=server_token(user, expires=int(time.time()) + 2))
        assert_unsubscribed(next_event(ws), "expired")
        Note.objects.create(owner=user, text="after the end", shared=True)
        ws.send(json.dumps({"id": "ping", "method": "GET", "url": "/healthz"}))
        assert receive(ws)["id"] == "ping"  # and no event came before it


def test_a_renewed_subscription_outlives_the_first_token(subscriber_server, user):
    """Subscribing again with `since` and a newer token of the same user renews,
    without a new snapshot; a socket that did not renew ends meanwhile."""
    expires = int(time.time()) + 2
    with (
        connect(subscriber_server.ws_url) as renewed,
        connect(subscriber_server.ws_url) as lapsed,
    ):
        first = subscribed(renewed, LIST, token=server_token(user, expires=expires))
        subscribed(lapsed, LIST, token=server_token(user, expires=expires))
        since = first["position"]
        reply = subscribed(renewed, LIST, token=server_token(user), since=since)
        assert reply["recovered"] is True and "data" not in reply
        assert_unsubscribed(next_event(lapsed), "expired")  # the first token is over
        note = Note.objects.create(owner=user, text="still heard", shared=True)
        event = next_event(renewed)
    assert (event["event"], event["data"]["id"]) == ("created", note.pk)


def refresh_token(server, user):
    credentials = {"username": user.username, "password": PASSWORD}
    response = requests.post(f"{server.url}/api/auth/token/", json=credentials)
    response.raise_for_status()
    return response.json()


def sign_out(server, tokens):
    response = requests.post(
        f"{server.url}/api/auth/token/blacklist/", json={"refresh": tokens["refresh"]}
    )
    assert response.status_code == 200, response.text


def change_password(server, user):
    user.set_password(PASSWORD + "!")
    user.save()


def deactivate(server, user):
    user.is_active = False
    user.save()


@pytest.mark.parametrize("end", [sign_out, change_password, deactivate])
def test_credentials_ended_elsewhere_end_subscriptions_on_every_process(
    subscriber_server, writer_server, user, end
):
    """Another user's subscription goes on."""
    other = new_user("other")
    tokens = refresh_token(writer_server, user)
    with (
        connect(subscriber_server.ws_url) as ws,
        connect(subscriber_server.ws_url) as bystander,
    ):
        subscribed(ws, LIST, token=tokens["access"])
        subscribed(bystander, LIST, token=server_token(other))
        end(writer_server, user if end is not sign_out else tokens)
        assert_unsubscribed(next_event(ws), "sign in again")
        note = Note.objects.create(
            owner=other, text="heard by the bystander", shared=True
        )
        assert next_event(bystander)["data"]["id"] == note.pk


def test_an_event_stream_ends_with_its_credentials(
    subscriber_server, writer_server, user
):
    tokens = refresh_token(writer_server, user)
    stream = EventStream(
        subscriber_server, LIST, Authorization=f"JWT {tokens['access']}"
    )
    try:
        assert stream.next_event()["event"] == "snapshot"
        sign_out(writer_server, tokens)
        ended = stream.next_event()
        assert_unsubscribed(ended["data"], "sign in again")
        with pytest.raises(AssertionError, match="the stream ended"):
            stream.next_event()
    finally:
        stream.close()


def test_a_signed_out_access_token_is_refused_at_once_on_every_transport(
    subscriber_server, writer_server, user
):
    """After sign-out, the access token of that session gets 401 over HTTP, a
    socket and an event stream alike, on any process; another session of the
    same user goes on."""
    tokens = refresh_token(writer_server, user)
    other_session = refresh_token(writer_server, user)
    sign_out(writer_server, tokens)
    for server in (subscriber_server, writer_server):
        headers = {"Authorization": f"JWT {tokens['access']}"}
        reply = requests.get(f"{server.url}{LIST}", headers=headers)
        assert reply.status_code == 401
        assert reply.json()["detail"] == "Signed out: sign in again."
    with connect(subscriber_server.ws_url) as ws:
        frame = {"id": 1, "method": "SUBSCRIBE", "url": LIST, "token": tokens["access"]}
        ws.send(json.dumps(frame))
        assert receive(ws)["status"] == 401
        subscribed(ws, LIST, token=other_session["access"])
    stream = EventStream(
        subscriber_server, LIST, Authorization=f"JWT {tokens['access']}"
    )
    try:
        assert stream.response.status_code == 401
    finally:
        stream.close()


def test_refreshing_a_deleted_user_s_token_is_401(writer_server, user):
    tokens = refresh_token(writer_server, user)
    user.delete()
    reply = requests.post(
        f"{writer_server.url}/api/auth/token/refresh/",
        json={"refresh": tokens["refresh"]},
    )
    assert reply.status_code == 401
    assert reply.json()["code"] == "no_active_account"


def test_a_sign_out_ends_only_the_subscriptions_of_that_session(
    subscriber_server, writer_server, user
):
    """The same user signed in twice: signing one session out ends the
    subscriptions made with its tokens; the other session's go on."""
    ended, kept = refresh_token(writer_server, user), refresh_token(writer_server, user)
    with (
        connect(subscriber_server.ws_url) as signed_out,
        connect(subscriber_server.ws_url) as elsewhere,
    ):
        subscribed(signed_out, LIST, token=ended["access"])
        subscribed(elsewhere, LIST, token=kept["access"])
        sign_out(writer_server, ended)
        assert_unsubscribed(next_event(signed_out), "sign in again")
        note = Note.objects.create(owner=user, text="still signed in", shared=True)
        assert next_event(elsewhere)["data"]["id"] == note.pk
