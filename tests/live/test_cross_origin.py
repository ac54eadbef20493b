"""A frontend on another origin: one setting, `ALLOWED_ORIGINS`, lets its pages
call the API over HTTP (CORS), open sockets and read event streams; any other
origin gets nothing on any transport. `WS_ALLOWED_ORIGINS` is its earlier name."""

import os

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import manage

pytestmark = pytest.mark.django_db(transaction=True)

FRONTEND = "https://frontend.example"
ELSEWHERE = "https://elsewhere.example"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(ALLOWED_ORIGINS=FRONTEND)


def test_the_api_answers_a_listed_origin_with_cors(server):
    response = requests.get(f"{server.url}/api/notes/", headers={"Origin": FRONTEND})
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    exposed = response.headers["Access-Control-Expose-Headers"].lower()
    assert {"retry-after", "location"} <= set(exposed.replace(" ", "").split(","))
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_the_preflight_allows_what_the_client_sends(server):
    preflight = requests.options(
        f"{server.url}/api/notes/",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_another_origin_gets_no_cors_headers(server):
    response = requests.get(f"{server.url}/api/notes/", headers={"Origin": ELSEWHERE})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_sockets_admit_the_listed_origin_only(server):
    with connect(server.ws_url, origin=FRONTEND):
        pass
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url, origin=ELSEWHERE)
    assert refused.value.response.status_code == 403


def test_event_streams_admit_the_listed_origin_only(server):
    url = f"{server.url}/ws/events"
    preflight = requests.options(
        url,
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    with requests.get(
        url, params={"url": "/api/notes/"}, headers={"Origin": FRONTEND}, stream=True
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["Access-Control-Allow-Origin"] == FRONTEND
    refused = requests.get(
        url, params={"url": "/api/notes/"}, headers={"Origin": ELSEWHERE}
    )
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_the_earlier_name_still_works(server_factory):
    server = server_factory(WS_ALLOWED_ORIGINS=FRONTEND)
    with connect(server.ws_url, origin=FRONTEND):
        pass
    response = requests.get(f"{server.url}/api/", headers={"Origin": FRONTEND})
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND


def test_both_names_at_once_is_a_clear_error():
    env = {
        **os.environ,
        "DEBUG": "true",
        "ALLOWED_ORIGINS": FRONTEND,
        "WS_ALLOWED_ORIGINS": FRONTEND,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    check = manage("check", env=env)
    assert check.returncode != 0
    assert "set only ALLOWED_ORIGINS" in check.stderr
