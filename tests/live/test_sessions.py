"""
Sign-out is durable: once it answers 200, that session's access tokens are
refused until they expire, whatever happens to Redis (the database holds the
record; Redis caches it), with refresh-token rotation on or off. A Redis fault
while authenticating is a 503 with `Retry-After`; a token that names no session
is refused.
"""

import json

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.test import APIClient
from rest_framework_simplejwt import serializers as jwt_serializers
from websockets.sync.client import connect

from tests.conftest import EVENT_TIMEOUT_SECONDS, PASSWORD, server_token

NOTES = "/api/notes/"


def sign_in(base, user):
    credentials = {"username": user.username, "password": PASSWORD}
    response = requests.post(f"{base}/api/auth/token/", json=credentials)
    assert response.status_code == 200, response.text
    return response.json()


def get_over_socket(server, access):
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": NOTES, "token": access}))
        return json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))


@pytest.mark.django_db(transaction=True)
def test_a_signed_out_token_stays_refused_after_redis_loses_everything(
    server_factory, own_redis
):
    """Signed out, then Redis restarted without persistence: the access token is
    still 401 over HTTP and WebSocket; another session is still served."""
    server = server_factory(REDIS_URL=own_redis.url)
    user = User.objects.create_user("durable", password=PASSWORD)
    ended, other = sign_in(server.url, user), sign_in(server.url, user)
    signed_out = requests.post(
        f"{server.url}/api/auth/token/blacklist/", json={"refresh": ended["refresh"]}
    )
    assert signed_out.status_code == 200
    own_redis.stop()  # without persistence: everything it held is lost
    own_redis.start()
    for _ in range(3):  # the first refusal is cached again; later ones read it
        refused = requests.get(f"{server.url}{NOTES}", headers=auth(ended["access"]))
        assert refused.status_code == 401
        assert refused.json()["detail"] == "Signed out: sign in again."
    assert get_over_socket(server, ended["access"])["status"] == 401
    served = requests.get(f"{server.url}{NOTES}", headers=auth(other["access"]))
    assert served.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_redis_fault_while_authenticating_is_503_with_retry_after(
    server_factory, own_redis
):
    """With Redis down, a signed-in request is answered 503 with `Retry-After`
    on both transports, never a 500 with a traceback."""
    server = server_factory(REDIS_URL=own_redis.url)
    user = User.objects.create_user("outage", password=PASSWORD)
    access = server_token(user)
    own_redis.stop()
    response = requests.get(f"{server.url}{NOTES}", headers=auth(access))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "Sessions unavailable" in response.json()["detail"]
    reply = get_over_socket(server, access)
    assert (reply["status"], reply["data"]) == (503, response.json())
    assert "Traceback" not in server.log()


@pytest.mark.django_db(transaction=True)
def test_a_token_that_names_no_session_is_refused(web_server):
    """A token made before sign-out knew sessions cannot be signed out: refused
    over HTTP and WebSocket alike."""
    user = User.objects.create_user("sessionless", password=PASSWORD)
    access = server_token(user, session=False)
    response = requests.get(f"{web_server.url}{NOTES}", headers=auth(access))
    assert response.status_code == 401
    assert "names no session" in response.json()["detail"]
    assert get_over_socket(web_server, access)["data"] == response.json()


def auth(access):
    return {"Authorization": f"JWT {access}"}


@pytest.mark.django_db
@pytest.mark.parametrize("rotate", [False, True], ids=["fixed", "rotating"])
def test_sign_out_ends_the_session_whether_refresh_tokens_rotate(monkeypatch, rotate):
    """Refreshing (with rotation: a new refresh token, the old blacklisted) does
    not end the session; signing out with its latest refresh token ends every
    access token and refresh token of it."""
    # As SIMPLE_JWT would set them (simplejwt's modules keep the settings object
    # they imported, so a changed setting does not reach them).
    for name in ("ROTATE_REFRESH_TOKENS", "BLACKLIST_AFTER_ROTATION"):
        monkeypatch.setattr(jwt_serializers.api_settings, name, rotate)
    User.objects.create_user("rotor", password=PASSWORD)
    client = APIClient()
    signed_in = client.post(
        "/api/auth/token/", {"username": "rotor", "password": PASSWORD}
    ).json()
    refreshed = client.post(
        "/api/auth/token/refresh/", {"refresh": signed_in["refresh"]}
    ).json()
    assert ("refresh" in refreshed) is rotate
    latest = refreshed.get("refresh", signed_in["refresh"])
    accesses = [signed_in["access"], refreshed["access"]]
    for access in accesses:
        client.credentials(HTTP_AUTHORIZATION=f"JWT {access}")
        assert client.get(NOTES).status_code == 200
    client.credentials()
    assert (
        client.post("/api/auth/token/blacklist/", {"refresh": latest}).status_code
        == 200
    )
    for access in accesses:
        client.credentials(HTTP_AUTHORIZATION=f"JWT {access}")
        assert client.get(NOTES).status_code == 401
    client.credentials()
    for refresh in {signed_in["refresh"], latest}:
        again = client.post("/api/auth/token/refresh/", {"refresh": refresh})
        assert again.status_code == 401
