"""Graceful shutdown on SIGTERM: replies in flight arrive, then close code 1001."""

import json
import signal
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.slow_urls import release

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 15


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
            ws.send(json.dumps({"id": "new", "url": "/api/"}))
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
