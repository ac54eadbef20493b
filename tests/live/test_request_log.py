"""One log line per request, the same fields over HTTP and WebSocket, with the
request id the client sent (or one made for it), as JSON lines."""

import json
import uuid

import pytest
import requests
from websockets.sync.client import connect

from live.testing import new_user, receive
from tests.conftest import server_token, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {
    "asctime",
    "levelname",
    "name",
    "message",
    "transport",
    "method",
    "path",
    "status",
    "duration_ms",
    "bytes",
    "client",
    "user",
    "request_id",
}


@pytest.fixture(scope="module")
def json_logging(server_factory):
    return server_factory(LOG_FORMAT="json", NUM_PROXIES=1)


def request_lines(server):
    lines = []
    for line in server.log().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["name"] == "live.requests":
                lines.append(record)
    return lines


def line_for(server, request_id):
    def found():
        return [r for r in request_lines(server) if r["request_id"] == request_id]

    wait_until(lambda: found())
    [line] = found()
    return line


def test_one_line_per_request_alike_on_both_transports(json_logging):
    user = new_user("logged")
    token = server_token(user)
    http_id, ws_id = f"http-{uuid.uuid4().hex}", f"ws-{uuid.uuid4().hex}"
    reply = requests.get(
        f"{json_logging.url}/api/notes/?secret=1",
        headers={
            "X-Request-ID": http_id,
            "Authorization": f"JWT {token}",
            "X-Forwarded-For": "198.51.100.7",
        },
    )
    assert reply.headers["X-Request-ID"] == http_id
    with connect(
        json_logging.ws_url, additional_headers={"X-Forwarded-For": "198.51.100.8"}
    ) as ws:
        frame = {"id": 1, "url": "/api/notes/?secret=1", "token": token}
        ws.send(json.dumps({**frame, "headers": {"X-Request-ID": ws_id}}))
        answer = receive(ws)
    assert answer["headers"]["X-Request-ID"] == ws_id

    over_http, over_ws = line_for(json_logging, http_id), line_for(json_logging, ws_id)
    assert set(over_http) == set(over_ws) == FIELDS
    for line, transport, client in [
        (over_http, "http", "198.51.100.7"),
        (over_ws, "websocket", "198.51.100.8"),
    ]:
        assert line["transport"] == transport
        assert (line["method"], line["path"], line["status"]) == (
            "GET",
            "/api/notes/",
            200,
        )
        assert line["client"] == client
        assert line["user"] == user.pk
        assert line["bytes"] > 0 and line["duration_ms"] >= 0
        assert "secret" not in line["message"]


def test_a_request_without_an_id_gets_one(json_logging):
    first = requests.get(f"{json_logging.url}/api/notes/")
    second = requests.get(
        f"{json_logging.url}/api/notes/", headers={"X-Request-ID": "not <an> id"}
    )
    made = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert len(set(made)) == 2 and all(len(rid) == 32 for rid in made)
    assert line_for(json_logging, made[0])["user"] is None


def test_a_render_names_the_change_it_shows(json_logging):
    user = new_user("render")
    token = server_token(user)
    with connect(json_logging.ws_url) as ws:
        ws.send(json.dumps({"id": "s", "method": "SUBSCRIBE", "url": "/api/notes/"}))
        assert receive(ws)["status"] == 200
        created = requests.post(
            f"{json_logging.url}/api/notes/",
            json={"text": "logged", "shared": True},
            headers={"Authorization": f"JWT {token}"},
        )
        assert created.status_code == 201
        while "event" not in (event := receive(ws)):
            pass
    position = event["position"]

    def rendered():
        return [r for r in request_lines(json_logging) if r.get("change") == position]

    wait_until(lambda: rendered())
    line = rendered()[0]
    assert line["transport"] == "render"
    assert line["path"] == f"/api/notes/{created.json()['id']}/"
    subscribed = [r for r in request_lines(json_logging) if r["method"] == "SUBSCRIBE"]
    assert subscribed and subscribed[-1]["transport"] == "websocket"
