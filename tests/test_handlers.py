"""
The WebSocket handler and hub in this process, over a real socket, with a stub
WSGI app in place of Django (as Tornado's own `websocket_test.py` does): frames,
limits, origins and the drain, in milliseconds. What only real processes can
prove (equivalence, events across processes, SIGTERM) is in the other files.
"""

import asyncio
import contextlib
import functools
import json
import socket
import threading

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import websocket_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from tests.conftest import EVENT_TIMEOUT_SECONDS
from wsserver.app import SocketApplication
from wsserver.config import ServerConfig
from wsserver.events import EventFanout

BAD_FRAMES = [
    ("{nope", None),
    ("[]", None),
    (b'{"id": 4, "url": "/api/"}', None),
    (json.dumps({"id": 5}), 5),
    (json.dumps({"id": 6, "url": "https://evil.example/"}), 6),
    (json.dumps({"id": 7, "url": "/api/", "method": "TEAPOT"}), 7),
    (json.dumps({"id": [], "url": "/api/"}), None),
    (json.dumps({"id": 8, "url": "/api/\n"}), 8),
    (json.dumps({"id": 9, "url": "/api/", "headers": {"Host": "evil"}}), 9),
    ("[" * 20_000 + "]" * 20_000, None),
]


class StubApp:
    """A WSGI app answering `{"path": ...}`; `/wait/<key>` blocks until released."""

    def __init__(self):
        self.gates: dict[str, threading.Event] = {}

    def gate(self, key: str) -> threading.Event:
        return self.gates.setdefault(key, threading.Event())

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/wait/"):
            self.gate(path.removeprefix("/wait/")).wait(EVENT_TIMEOUT_SECONDS)
        if path.startswith("/big/"):
            body = json.dumps({"filler": "x" * int(path.removeprefix("/big/"))})
        else:
            body = json.dumps({"path": path})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]


class HandlerTestCase(AsyncHTTPTestCase):
    """A `SocketApplication` on a stub WSGI app; `config` overrides limits."""

    config: dict = {}

    def get_app(self):
        self.wsgi_app = StubApp()
        fanout = EventFanout(
            redis_url="redis://never-used.invalid", channel="none", redis_options={}
        )
        return SocketApplication(
            wsgi_app=self.wsgi_app,
            config=ServerConfig.from_settings(**self.config),
            fanout=fanout,
        )

    def tearDown(self):
        for gate in self.wsgi_app.gates.values():
            gate.set()
        super().tearDown()

    async def connect(self, **headers):
        url = f"ws://127.0.0.1:{self.get_http_port()}/ws/api"
        return await websocket_connect(HTTPRequest(url, headers=headers))

    async def ask(self, ws, **message):
        await ws.write_message(json.dumps(message))
        return await self.receive(ws)

    async def receive(self, ws):
        text = await ws.read_message()
        return None if text is None else json.loads(text)


class TestFrames(HandlerTestCase):
    @gen_test
    async def test_request_is_answered_with_its_id_method_and_url(self):
        """A valid frame goes through the WSGI app; the reply echoes it."""
        ws = await self.connect()
        reply = await self.ask(ws, id=1, url="/api/x/")
        assert reply == {
            "id": 1,
            "status": 200,
            "method": "GET",
            "url": "/api/x/",
            "headers": {"Content-Type": "application/json"},
            "data": {"path": "/api/x/"},
        }

    @gen_test
    async def test_bad_frames_get_400_and_the_socket_keeps_serving(self):
        """Each malformed frame gets a 400 with a detail, echoing the id it could
        read; the socket then serves the next request."""
        ws = await self.connect()
        for frame, echoed_id in BAD_FRAMES:
            await ws.write_message(frame, binary=isinstance(frame, bytes))
            reply = await self.receive(ws)
            assert reply["status"] == 400, frame
            assert reply["id"] == echoed_id
            assert reply["data"]["detail"]
            assert reply["headers"] == {"Content-Type": "application/json"}
            assert (await self.ask(ws, url="/after/"))["status"] == 200

    @gen_test
    async def test_unsubscribe_without_a_subscription_is_404(self):
        """UNSUBSCRIBE from a URL never subscribed says so, without Redis."""
        ws = await self.connect()
        reply = await self.ask(ws, id=3, method="UNSUBSCRIBE", url="/api/x/")
        assert (reply["id"], reply["status"]) == (3, 404)


class TestOrigin(HandlerTestCase):
    @gen_test
    async def test_foreign_origin_is_refused_with_403(self):
        """A page from another site may not open a socket."""
        try:
            await self.connect(Origin="https://evil.example")
        except HTTPClientError as refused:
            assert refused.code == 403
        else:
            raise AssertionError("the handshake was accepted")


class TestInFlightLimit(HandlerTestCase):
    config = {"max_in_flight": 2}

    @gen_test
    async def test_requests_past_the_in_flight_limit_get_429(self):
        """Past WS_MAX_IN_FLIGHT unanswered requests, a frame gets 429 at once."""
        ws = await self.connect()
        for key in ("a", "b"):
            await ws.write_message(json.dumps({"id": key, "url": f"/wait/{key}"}))
        refused = await self.ask(ws, id="c", url="/now/")
        assert (refused["id"], refused["status"]) == ("c", 429)
        self.wsgi_app.gate("a").set()
        self.wsgi_app.gate("b").set()
        answered = {(await self.receive(ws))["id"] for _ in range(2)}
        assert answered == {"a", "b"}
        assert (await self.ask(ws, id="d", url="/now/"))["status"] == 200


class TestDrain(HandlerTestCase):
    @gen_test
    async def test_drain_answers_requests_in_flight_refuses_new_ones_then_1001(self):
        """Draining: new frames get 503, those in flight reply, then close 1001."""
        ws = await self.connect()
        await ws.write_message(json.dumps({"id": "slow", "url": "/wait/slow"}))
        drained = self.io_loop.asyncio_loop.create_task(
            self._app.hub.drain(timeout=EVENT_TIMEOUT_SECONDS)
        )
        refused = await self.ask(ws, id="new", url="/now/")
        assert (refused["id"], refused["status"]) == ("new", 503)
        self.wsgi_app.gate("slow").set()
        answered = await self.receive(ws)
        assert (answered["id"], answered["status"]) == ("slow", 200)
        await drained
        assert await ws.read_message() is None
        assert ws.close_code == 1001


def flood_without_reading(url, *, requests, path):
    """Send `requests` frames from a client that reads nothing until the end;
    then read what arrived and return the close code."""
    sock = socket.socket()
    # A tiny receive window, so the backlog piles up in the server, not the kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])))
    with sync_connect(url, sock=sock, max_size=None, max_queue=1) as ws:
        for number in range(requests):
            ws.send(json.dumps({"id": number, "url": path}))
        with contextlib.suppress(ConnectionClosed):
            while True:
                ws.recv(timeout=EVENT_TIMEOUT_SECONDS)
    return ws.close_code


class TestSendBuffer(HandlerTestCase):
    config = {"max_buffered_bytes": 64 * 1024, "max_in_flight": 1000}

    @gen_test(timeout=EVENT_TIMEOUT_SECONDS * 2)
    async def test_client_that_lets_replies_pile_up_is_closed_with_1008(self):
        """Replies queued unread past WS_MAX_BUFFERED_BYTES close the socket."""
        url = f"ws://127.0.0.1:{self.get_http_port()}/ws/api"
        close_code = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                flood_without_reading, url, requests=300, path="/big/20000"
            ),
        )
        assert close_code == 1008
