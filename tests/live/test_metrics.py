"""`/metrics`: who may read it, and figures that follow the load, summed over
the workers of one web process."""

import json
import uuid

import pytest
import requests
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from live.testing import receive
from tests.conftest import EVENT_TIMEOUT_SECONDS, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = f"metrics-{uuid.uuid4().hex}"
FRAMES_PER_SECOND = 5


@pytest.fixture(scope="module")
def two_workers(server_factory):
    return server_factory(
        WEB_CONCURRENCY=2,
        METRICS_TOKEN=TOKEN,
        WS_FRAMES_PER_SECOND=FRAMES_PER_SECOND,
    )


def scrape(server, **headers):
    reply = requests.get(
        f"{server.url}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}", **headers},
        timeout=EVENT_TIMEOUT_SECONDS,
    )
    assert reply.status_code == 200, reply.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_sockets_and_replies_are_counted_over_both_workers(two_workers):
    before = scrape(two_workers)
    sockets = [connect(two_workers.ws_url) for _ in range(8)]
    try:
        for ws in sockets:
            ws.send(json.dumps({"id": 1, "url": "/api/notes/"}))
            assert receive(ws)["status"] == 200
        for _ in range(3):
            requests.get(f"{two_workers.url}/api/notes/").raise_for_status()

        def all_open():
            return value(scrape(two_workers), "live_websockets_open") == 8

        # Every scrape, whichever worker answers it, adds up both workers'.
        wait_until(all_open)
        during = scrape(two_workers)
    finally:
        for ws in sockets:
            ws.close()
    opened = "live_connections_opened_total"
    assert (
        value(during, opened, transport="websocket")
        - value(before, opened, transport="websocket")
        == 8
    )
    replies = "live_replies_total"
    ws_get = {"transport": "websocket", "method": "GET", "status": "2xx"}
    http_get = {"transport": "http", "method": "GET", "status": "2xx"}
    assert value(during, replies, **ws_get) - value(before, replies, **ws_get) == 8
    # Three GETs, and the scrapes since `before`, which count themselves too.
    http_delta = value(during, replies, **http_get) - value(before, replies, **http_get)
    assert http_delta >= 3 + 1
    wait_until(lambda: value(scrape(two_workers), "live_websockets_open") == 0)


def test_a_frame_flood_is_counted_as_refused(two_workers):
    before = scrape(two_workers)
    frames = FRAMES_PER_SECOND + 3
    with connect(two_workers.ws_url) as ws:
        for n in range(frames):
            ws.send(json.dumps({"id": n, "url": "/api/notes/"}))
        answers = [receive(ws) for _ in range(frames)]
    refused = sum(answer["status"] == 429 for answer in answers)
    assert refused >= 1
    after = scrape(two_workers)
    name, limit = "live_refusals_total", {"limit": "frame_budget"}
    assert value(after, name, **limit) - value(before, name, **limit) == refused


def test_metrics_need_the_token_and_answer_any_host(two_workers):
    url = f"{two_workers.url}/metrics"
    assert requests.get(url).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    # A scraper may call it by the machine's address, as a health check does.
    samples = scrape(two_workers, Host="10.1.2.3")
    assert ("live_websockets_open", ()) in samples
    other = requests.get(f"{two_workers.url}/api/notes/", headers={"Host": "10.1.2.3"})
    assert other.status_code == 400


def test_without_a_token_metrics_are_not_there_in_production(settings):
    settings.LIVE_METRICS_TOKEN = ""
    settings.DEBUG = False
    assert Client().get("/metrics").status_code == 404
    settings.DEBUG = True  # local use: open
    assert Client().get("/metrics").status_code == 200
