"""Graceful shutdown on SIGTERM: replies in flight arrive, then close code 1001."""

import json
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from live.testing import new_user
from tests import slow_boot
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    free_port,
    launch,
    server_command,
    server_env,
    server_token,
    wait_until,
)
from tests.notes.models import Note
from tests.slow_urls import release, wait_entered

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = EVENT_TIMEOUT_SECONDS


@pytest.mark.parametrize("kind", ["web", "wsserver"])
def test_sigterm_answers_requests_in_flight_then_closes_with_1001(server_factory, kind):
    """A deploy never drops a reply: in-flight requests finish, then 1001."""
    server = server_factory(kind=kind)
    key = uuid.uuid4().hex
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": "in-flight", "url": f"/test/wait/{key}/"}))
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)  # the request is waiting in its view
        server.process.send_signal(signal.SIGTERM)
        # Draining: a new request is refused with 503, the socket stays open.
        refused = None
        while refused is None:
            ws.send(json.dumps({"id": "new", "url": "/healthz"}))
            reply = json.loads(ws.recv(timeout=TIMEOUT))
            if reply["status"] == 503:
                refused = reply
        release(key)
        replies = []
        with pytest.raises(ConnectionClosed):
            while True:
                replies.append(json.loads(ws.recv(timeout=TIMEOUT)))
    assert "shutting down" in refused["data"]["detail"]
    assert [r["id"] for r in replies if r["id"] == "in-flight"] == ["in-flight"]
    assert next(r for r in replies if r["id"] == "in-flight")["status"] == 200
    assert ws.close_code == 1001
    assert server.process.wait(timeout=TIMEOUT) == 0


@pytest.mark.parametrize("kind", ["web", "wsserver"])
def test_sigterm_lets_an_http_request_in_flight_reply(server_factory, kind):
    """The drain counts HTTP requests too: one waiting in its view when the
    worker gets SIGTERM still gets its reply."""
    server = server_factory(kind=kind)
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(1) as pool:
        url = f"{server.url}/test/wait/{key}/"
        pending = pool.submit(requests.get, url, timeout=TIMEOUT * 4)
        wait_entered(key)
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Draining: 1 requests in flight" in server.log())
        release(key)
        response = pending.result()
    assert response.status_code == 200
    assert response.json() == {"released": True}
    assert server.process.wait(timeout=TIMEOUT) == 0


@pytest.mark.parametrize("kind", ["web", "wsserver"])
def test_a_restart_loses_no_reply_on_kept_alive_connections(server_factory, kind):
    """POSTs racing SIGTERM on kept-alive connections: each POST that was saved
    got its reply (so a client never retries one that was made), with
    `Connection: close` while the process drains; the others failed unsaved."""
    server = server_factory(kind=kind)
    writer = new_user("writer")
    headers = {"Authorization": f"JWT {server_token(writer)}"}
    sessions = [requests.Session() for _ in range(8)]
    for session in sessions:  # each connection kept alive before the signal
        assert session.get(f"{server.url}/healthz").status_code == 200
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(len(sessions) + 1) as pool:
        holding = pool.submit(
            requests.get, f"{server.url}/test/wait/{key}/", timeout=TIMEOUT * 4
        )
        wait_entered(key)  # the drain waits for this one...
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Draining: 1 requests in flight" in server.log())
        release(key)  # ...and the POSTs race its end

        def post(session, title):
            try:
                response = session.post(
                    f"{server.url}/api/notes/",
                    json={"text": title},
                    headers=headers,
                    timeout=TIMEOUT,
                )
            except requests.ConnectionError:
                return None
            return response

        titles = [f"racing {uuid.uuid4().hex}" for _ in sessions]
        answers = list(pool.map(post, sessions, titles))
        assert holding.result().status_code == 200
    assert server.process.wait(timeout=TIMEOUT) == 0
    answered = {t for t, a in zip(titles, answers, strict=True) if a is not None}
    assert all(a.status_code == 201 for a in answers if a is not None)
    assert all(a.headers["Connection"] == "close" for a in answers if a is not None)
    saved = set(Note.objects.filter(text__in=titles).values_list("text", flat=True))
    assert saved == answered


def test_a_worker_stopped_while_it_boots_stops_at_once(tmp_path):
    """A SIGTERM that reaches a worker while it loads the app (a deploy right
    after a start) stops it as soon as it has loaded, not when the master's
    graceful timeout (here 300 s) runs out."""
    port = free_port()
    gate = tmp_path / "gate"
    command = [*server_command("web", port)[:-1], "tests.slow_boot:make_app()"]
    server = launch(
        command,
        env=server_env(
            PORT=port, BOOT_GATE=gate, GUNICORN_CMD_ARGS="--graceful-timeout 300"
        ),
        log_path=tmp_path / "server.log",
        port=port,
    )
    try:
        wait_until(lambda: slow_boot.LOADING in server.log())  # signals handled
        server.process.send_signal(signal.SIGTERM)  # passed on to the worker
        wait_until(lambda: "Handling signal: term" in server.log())
        gate.touch()
        server.process.wait(timeout=STOPPED_LONG_BEFORE_SECONDS)
    finally:
        server.stop()
    assert "Shutting down: Master" in server.log()


# Far longer than a correct worker takes under any load, far shorter than 300 s.
STOPPED_LONG_BEFORE_SECONDS = 120
