"""
Safe on the open internet, with production settings: what clients send never
grows the metrics or forges a log line, a malformed sign-in body is a 4xx, and a
deploy that is wrong says so (a proxy's redirect loop, a plain `ws://`, a
missing setting); `honcho start` never turns debug on over exported settings.
"""

import json
import random

import pytest
import requests
from rest_framework.test import APIClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from live.proxies import LOOP
from live.requestlog import COUNTED_METHODS
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    deploy_env,
    free_port,
    manage,
)

METRICS_TOKEN = "a-scraper-token"


@pytest.fixture(scope="module")
def production(server_factory):
    """HTTPS only (plain HTTP redirected), no proxy trusted, metrics on."""
    return server_factory(SECURE_SSL_REDIRECT="true", METRICS_TOKEN=METRICS_TOKEN)


@pytest.fixture(scope="module")
def behind_a_proxy(server_factory):
    """Behind one proxy (a router), which says who the client is."""
    return server_factory(NUM_PROXIES=1, METRICS_TOKEN=METRICS_TOKEN)


def scrape(server, host=None):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    if host:
        headers["Host"] = host
    response = requests.get(f"{server.url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def methods_counted(scraped):
    return {
        line.split('method="', 1)[1].split('"', 1)[0]
        for line in scraped.splitlines()
        if line.startswith("live_replies_total{")
    }


def test_made_up_methods_add_no_metric_series(behind_a_proxy):
    """Requests with made-up methods (2,000 characters each) are counted as
    `other`: the series are those of a fixed set, whatever clients send."""
    rng = random.Random(1)
    for _ in range(20):
        method = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=2000))
        requests.request(method, f"{behind_a_proxy.url}/healthz")
    with connect(behind_a_proxy.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "method": "X" * 2000, "url": "/healthz"}))
        assert json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))["status"] == 400
    assert methods_counted(scrape(behind_a_proxy)) <= {*COUNTED_METHODS, "other"}


FORGED = "2030-01-01 00:00:00,000 INFO live.requests FORGED"


def test_control_characters_never_start_a_log_line(behind_a_proxy):
    """CR, LF and other control characters in a path, a frame's `url` and
    `method`, and a forged X-Forwarded-For never start a line of the text log;
    a forwarded address that is none is logged as `invalid`."""
    server = behind_a_proxy
    for junk in ("%0A", "%0D", "%0D%0A", "%1B[2J%0A", "%00%0A"):
        requests.get(f"{server.url}/api/x{junk}{FORGED.replace(' ', '%20')}")
    with connect(server.ws_url) as ws:
        for frame in (
            {"url": f"/api/\n{FORGED}"},
            {"url": "/api/", "method": f"GET\r\n{FORGED}"},
        ):
            ws.send(json.dumps({"id": 1, **frame}))
            assert json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))["status"] == 400
    requests.get(
        f"{server.url}/healthz", headers={"X-Forwarded-For": "1.2.3.4 FORGED line"}
    )
    lines = server.log().splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert any("client=invalid" in line for line in lines)


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [100, 100_000])
def test_a_deeply_nested_sign_in_body_is_400(depth):
    """The sign-in limiter reads a body it cannot parse as naming no one; the
    view answers 400, never a 500."""
    body = "[" * depth + "]" * depth
    response = APIClient().post(
        "/api/auth/token/", body, content_type="application/json"
    )
    assert response.status_code == 400


def test_a_plain_websocket_is_refused_at_the_handshake_with_a_reason(production):
    """With HTTPS only, `ws://` is refused before the upgrade (every frame would
    be redirected); the same request through a trusted TLS proxy is not."""
    with pytest.raises(InvalidStatus) as refused:
        connect(production.ws_url)
    assert refused.value.response.status_code == 403
    assert b"wss://" in refused.value.response.body


def test_metrics_answer_a_scraper_by_address_over_plain_http(production):
    """An in-cluster scraper calls by address over plain HTTP: with its token,
    any Host, never redirected."""
    assert "live_replies_total" in scrape(production, host="10.1.2.3:8000")


def test_a_proxy_that_loops_the_redirect_is_logged_once_with_the_fix(production):
    """A TLS router in front and NUM_PROXIES left out: every request redirects
    to itself; the log says so once, naming NUM_PROXIES."""
    for _ in range(3):
        response = requests.get(
            f"{production.url}/api/notes/",
            headers={"X-Forwarded-Proto": "https", "Host": "127.0.0.1"},
            allow_redirects=False,
        )
        assert response.status_code == 301
    assert production.log().count(LOOP) == 1


def test_a_missing_setting_is_one_line_not_a_traceback():
    """`bin/web` starts with `manage.py`: a missing setting is one line."""
    env = deploy_env(ALLOWED_HOSTS="app.example.com")
    del env["SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "SECRET_KEY is required" in result.stderr
    assert "For local use on this machine, set DEBUG=true" in result.stderr


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [{"DEBUG": "false"}, {}], ids=["false", "unset"])
def test_honcho_with_production_settings_exported_never_debugs(started, debug):
    """`honcho start` on a server with the production variables exported (and
    `DEBUG=false`, or no DEBUG at all): the committed `.env` does not turn
    debug pages on."""
    port = free_port()
    server = started(
        ["honcho", "start", "--port", str(port), "web"],
        env=deploy_env(**debug),
        port=port,
    )
    server.wait_until_serving()
    missing = requests.get(f"{server.url}/no-such-page/")
    assert missing.status_code == 404
    assert "URLconf" not in missing.text
