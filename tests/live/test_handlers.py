"""
The WebSocket handler and the live process (`LiveProcess`) in this process,
over a real socket, with a stub WSGI app in place of Django (as Tornado's own
`websocket_test.py` does): frames, limits, origins and the drain, in
milliseconds. What only real processes can
prove (equivalence, events across processes, SIGTERM) is in the other files.
"""

import asyncio
import contextlib
import functools
import json
import re
import socket
import threading

import pytest
import redis
from django.conf import settings
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import AsyncHTTPTestCase, gen_test
from tornado.websocket import websocket_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from live.conf import live_settings
from live.limits import ServerConfig
from tests.conftest import EVENT_TIMEOUT_SECONDS
from wsserver.app import OnePort, SocketApplication
from wsserver.budget import FrameBudget
from wsserver.history import History, Position

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
        self.arrivals: dict[str, threading.Event] = {}

    def gate(self, key: str) -> threading.Event:
        return self.gates.setdefault(key, threading.Event())

    def arrival(self, key: str) -> threading.Event:
        return self.arrivals.setdefault(key, threading.Event())

    async def arrived(self, key: str) -> None:
        """Wait until a request for `/wait/<key>` is inside the app."""
        arrival = self.arrival(key)
        await asyncio.get_running_loop().run_in_executor(
            None, arrival.wait, EVENT_TIMEOUT_SECONDS
        )
        assert arrival.is_set()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/wait/"):
            key = path.removeprefix("/wait/")
            self.arrival(key).set()
            self.gate(key).wait(EVENT_TIMEOUT_SECONDS)
        headers = [("Content-Type", "application/json")]
        if path.startswith("/big/"):
            body = json.dumps({"filler": "x" * int(path.removeprefix("/big/"))})
        elif path == "/page/":
            headers, body = [("Content-Type", "text/html")], "<p>a page</p>"
        elif path == "/body/":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            seen = environ["wsgi.input"].read(length).decode("latin-1")
            body = json.dumps({"method": environ["REQUEST_METHOD"], "body": seen})
        elif path == "/headers/":
            body = json.dumps(
                {k: v for k, v in environ.items() if k.startswith("HTTP_")}
            )
        else:
            body = json.dumps({"path": path})
        if path == "/cookie/":
            headers.append(("Set-Cookie", "sessionid=x; Path=/"))
        start_response("200 OK", headers)
        return [body.encode()]


class HandlerTestCase(AsyncHTTPTestCase):
    """A `SocketApplication` on a stub WSGI app; `config` overrides limits."""

    config: dict = {}

    def get_app(self):
        self.wsgi_app = StubApp()
        history = History(
            redis_url=settings.REDIS_URL,
            stream=live_settings.EVENTS_STREAM,
            redis_options=settings.REDIS_OPTIONS,
        )
        return SocketApplication(
            wsgi_app=self.wsgi_app,
            config=ServerConfig.from_settings(**self.config),
            history=history,
        )

    def get_http_server(self):
        return HTTPServer(OnePort(self._app), **self.get_httpserver_options())

    def tearDown(self):
        for gate in self.wsgi_app.gates.values():
            gate.set()
        super().tearDown()

    async def connect(self, path="/ws/api", **headers):
        url = f"ws://127.0.0.1:{self.get_http_port()}{path}"
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
            assert reply.get("id") == echoed_id  # none if it had none
            assert "id" in reply or echoed_id is None
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
        await self.wsgi_app.arrived("slow")
        drained = self.io_loop.asyncio_loop.create_task(
            self._app.process.drain(timeout=EVENT_TIMEOUT_SECONDS)
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


class TestKeepAlive(HandlerTestCase):
    config = {"ping_interval_seconds": 0}  # every socket is old enough to ping

    @gen_test
    async def test_a_socket_that_answers_pings_is_kept(self):
        """The process pings every socket from one timer; a client that answers
        (Tornado's client does, as browsers do) stays through many rounds."""
        ws = await self.connect()
        handler = next(iter(self._app.process.connections))
        for _ in range(3):
            self._app.process.keep_alive()
            assert handler.state.ping_unanswered
            for _ in range(int(EVENT_TIMEOUT_SECONDS * 100)):
                if not handler.state.ping_unanswered:
                    break
                await asyncio.sleep(0.01)
            assert not handler.state.ping_unanswered  # the pong came
        assert (await self.ask(ws, id=1, url="/a/"))["status"] == 200

    @gen_test
    async def test_a_socket_that_leaves_a_ping_unanswered_is_closed(self):
        ws = await self.connect()
        handler = next(iter(self._app.process.connections))
        handler.state.ping_unanswered = True  # as if the last ping got no pong
        self._app.process.keep_alive()
        assert await ws.read_message() is None  # closed
        assert ws.close_reason == "ping timed out"


class TestFirstPing(HandlerTestCase):
    config = {"ping_interval_seconds": 3600}

    @gen_test
    async def test_a_new_socket_is_first_pinged_an_interval_after_its_handshake(self):
        """A socket opened just before a round is not pinged by it, so a client
        has at least an interval before its first ping, as with Tornado's own."""
        ws = await self.connect()
        handler = next(iter(self._app.process.connections))
        self._app.process.keep_alive()
        assert not handler.state.ping_unanswered
        handler.state.opened_at -= 3600
        self._app.process.keep_alive()
        assert handler.state.ping_unanswered
        assert (await self.ask(ws, id=1, url="/a/"))["status"] == 200


class TestFrameBudget(HandlerTestCase):
    config = {"frames_per_second": 3}

    @gen_test
    async def test_frames_over_the_budget_get_429_then_a_close_with_1008(self):
        """Past WS_FRAMES_PER_SECOND a frame gets 429; a client that keeps going
        for another second's worth is closed with 1008."""
        ws = await self.connect()
        handler = next(iter(self._app.process.connections))
        budget = handler.state.budget
        budget.clock = lambda: budget.updated  # time stands still
        for number in range(3):
            assert (await self.ask(ws, id=number, url="/a/"))["status"] == 200
        over = await self.ask(ws, id=3, url="/a/")
        assert (over["id"], over["status"]) == (3, 429)  # it names its request
        assert over["headers"]["Retry-After"] == "1"
        for number in range(3):
            await ws.write_message(json.dumps({"id": number, "url": "/a/"}))
        replies = []
        while (frame := await self.receive(ws)) is not None:
            replies.append(frame)
        assert [(r.get("id"), r["status"]) for r in replies] == [(0, 429), (1, 429)]
        assert ws.close_code == 1008


def test_frame_budget_refills_at_its_rate():
    """The budget refills at `rate` frames a second, up to `rate`."""
    now = [0.0]
    budget = FrameBudget(2, clock=lambda: now[0])
    assert [budget.spend() for _ in range(3)] == [True, True, False]
    now[0] += 0.5
    assert [budget.spend(), budget.spend()] == [True, False]
    now[0] += 10
    assert [budget.spend() for _ in range(3)] == [True, True, False]


class TestPerAddressCap(HandlerTestCase):
    config = {"max_connections_per_address": 2}

    @gen_test
    async def test_connections_past_the_per_address_cap_get_429(self):
        """One address may hold at most WS_MAX_CONNECTIONS_PER_ADDRESS sockets."""
        await self.connect()
        await self.connect()
        with pytest.raises(HTTPClientError) as refused:
            await self.connect()
        assert refused.value.code == 429


class TestIdle(HandlerTestCase):
    @gen_test
    async def test_idle_socket_is_closed_with_1001(self):
        """A socket that sends nothing and listens to nothing is closed."""
        ws = await self.connect()
        assert (await self.ask(ws, url="/a/"))["status"] == 200
        self._app.process.close_idle(idle_seconds=3600)
        assert (await self.ask(ws, url="/a/"))["status"] == 200
        self._app.process.close_idle(idle_seconds=0)
        assert await ws.read_message() is None
        assert ws.close_code == 1001


class TestBusy(HandlerTestCase):
    config = {
        "threads": 1,
        "max_queued_requests": 0,
        "allowed_origins": ("https://listed.example",),
    }

    @gen_test
    async def test_a_full_queue_answers_503_at_once_on_both_transports(self):
        """With every Django thread busy and no room to queue, 503 at once."""
        ws = await self.connect()
        await ws.write_message(json.dumps({"id": "slow", "url": "/wait/busy"}))
        await self.wsgi_app.arrived("busy")
        refused = await self.ask(ws, id="next", url="/a/")
        assert (refused["id"], refused["status"]) == ("next", 503)
        response = await self.http_client.fetch(
            self.get_url("/a/"),
            headers={"Origin": "https://listed.example"},
            raise_error=False,
        )
        assert response.code == 503
        assert response.headers["Retry-After"] == "1"
        # A page on a listed origin can read the refusal, as Django's answers.
        assert response.headers["Access-Control-Allow-Origin"] == (
            "https://listed.example"
        )
        self.wsgi_app.gate("busy").set()
        assert (await self.receive(ws))["id"] == "slow"
        assert (await self.ask(ws, id="after", url="/a/"))["status"] == 200


class TestLargeReplies(HandlerTestCase):
    config = {"max_buffered_bytes": 1000, "max_reply_bytes": 100_000}

    @gen_test
    async def test_one_large_reply_to_a_reading_client_goes_through(self):
        """The send bound is on what piles up unread, never on one reply."""
        ws = await self.connect()
        assert (await self.ask(ws, url="/big/50000"))["status"] == 200
        assert (await self.ask(ws, url="/big/50000"))["status"] == 200

    @gen_test
    async def test_reply_too_large_for_the_socket_is_an_error_reply(self):
        """A reply over WS_MAX_REPLY_BYTES is replaced by a 500 saying so."""
        ws = await self.connect()
        reply = await self.ask(ws, id=1, url="/big/200000")
        assert (reply["id"], reply["status"]) == (1, 500)
        assert "use HTTP" in reply["data"]["detail"]
        assert (await self.ask(ws, url="/a/"))["status"] == 200


class TestHandshake(HandlerTestCase):
    config = {"allowed_origins": ("https://listed.example",)}

    async def refused_code(self, **headers):
        with pytest.raises(HTTPClientError) as refused:
            await self.connect(**headers)
        return refused.value.code

    @gen_test
    async def test_origin_must_match_exactly_or_be_listed(self):
        """Same scheme, host and port, or a listed origin; nothing looser."""
        port = self.get_http_port()
        await self.connect(Origin=f"http://127.0.0.1:{port}")
        await self.connect(Origin="https://listed.example")
        await self.connect(Origin="https://LISTED.example:443")
        for origin in [
            "http://127.0.0.1:9999",
            "http://localhost:9999",
            f"https://127.0.0.1:{port}",
            "http://listed.example",
            "null",
        ]:
            assert await self.refused_code(Origin=origin) == 403, origin

    @gen_test
    async def test_foreign_host_is_refused_at_the_handshake(self):
        """A Host not in ALLOWED_HOSTS is a 400 before the upgrade."""
        assert await self.refused_code(Host="evil.example") == 400


class TestSubscriptionRules(HandlerTestCase):
    config = {"max_subscriptions": 0}

    @gen_test
    async def test_subscriptions_past_the_cap_get_429(self):
        """At most WS_MAX_SUBSCRIPTIONS per connection."""
        ws = await self.connect()
        reply = await self.ask(ws, method="SUBSCRIBE", url="/a/")
        assert reply["status"] == 429


class TestSubscribeOnlyJson(HandlerTestCase):
    @gen_test
    async def test_only_json_resources_can_be_subscribed(self):
        """SUBSCRIBE to an HTML page is a 400 and subscribes nothing."""
        ws = await self.connect()
        reply = await self.ask(ws, id=1, method="SUBSCRIBE", url="/page/")
        assert (reply["id"], reply["status"]) == (1, 400)
        assert "Only JSON resources" in reply["data"]["detail"]
        assert not self._app.process.fanout.registry


class TestHistoryUnreadable(HandlerTestCase):
    async def subscribe_with_unreadable(self, read):
        """SUBSCRIBE while the history's `read` fails (Redis down, or every
        connection of its pool busy past the timeout)."""
        ws = await self.connect()
        fanout = self._app.process.fanout
        since = await fanout.position()  # the reader started, as before any SUBSCRIBE
        # The reader past `since`: a SUBSCRIBE from there reads what is between
        # (one from where the reader stands reads nothing).
        fanout.reader.stand_at(Position(since.epoch, (since.id[0] + 1, 0)))

        async def unreadable(*args, **kwargs):
            raise redis.exceptions.ConnectionError("No connection available.")

        setattr(fanout.history, read, unreadable)
        frame = {"id": 1, "method": "SUBSCRIBE", "url": "/a/", "since": str(since)}
        return ws, fanout, await self.ask(ws, **frame)

    @gen_test
    async def test_a_subscribe_the_history_cannot_serve_is_503_retry_after(self):
        """Told to retry: 503 with `Retry-After`, not a 500; nothing is left
        subscribed, and the connection goes on serving."""
        ws, fanout, reply = await self.subscribe_with_unreadable("reaches_back_to")
        assert (reply["id"], reply["status"]) == (1, 503)
        assert reply["headers"]["Retry-After"] == "1"
        assert "retry shortly" in reply["data"]["detail"]
        assert not fanout.registry
        assert (await self.ask(ws, id=2, url="/a/"))["status"] == 200

    @gen_test
    async def test_a_subscribe_from_where_the_reader_stands_reads_nothing(self):
        """A fresh SUBSCRIBE starts where the reader stands: it needs no read of
        the history, so a burst of them (every socket after a deploy) cannot
        wait on its connections."""
        ws = await self.connect()
        fanout = self._app.process.fanout
        await fanout.position()

        async def unreadable(*args, **kwargs):
            raise AssertionError("read the history")

        for read in ("reaches_back_to", "between"):
            setattr(fanout.history, read, unreadable)
        reply = await self.ask(ws, id=1, method="SUBSCRIBE", url="/a/")
        assert reply["status"] == 200

    @gen_test
    async def test_a_subscribe_whose_catch_up_read_fails_leaves_nothing(self):
        ws, fanout, reply = await self.subscribe_with_unreadable("between")
        assert reply["status"] == 503
        assert not fanout.registry


# Requests Tornado's own handlers refuse: a method they do not list, a form body
# they cannot parse (encoded, or a part with an empty name).
AS_SENT = [
    ("TRACE", b"", b""),
    ("QUERY", b"Content-Type: application/json\r\n", b'{"q": 1}'),
    (
        "POST",
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Encoding: gzip\r\n",
        b"a=1",
    ),
    (
        "POST",
        b"Content-Type: multipart/form-data; boundary=b\r\n",
        b'--b\r\nContent-Disposition: form-data; name=""\r\n\r\nx\r\n--b--\r\n',
    ),
]


class TestHttpPath(HandlerTestCase):
    config = {"request_max_bytes": 1000, "allowed_origins": ("https://listed.example",)}

    async def raw(self, request: bytes) -> bytes:
        """Send `request` as it is; the response's head and as much body as came."""
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.get_http_port()
        )
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I)[1])
        body = await reader.readexactly(length)
        writer.close()
        return head + body

    @gen_test
    async def test_body_over_the_limit_is_413_before_it_is_read(self):
        """A Content-Length over REQUEST_MAX_BYTES is refused at once, readable
        by a page on a listed origin."""
        response = await self.raw(
            b"POST /a/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Origin: https://listed.example\r\n"
            b"Content-Length: 60000000\r\n\r\n" + b"x" * 1000
        )
        assert response.startswith(b"HTTP/1.1 413 ")
        assert b"Access-Control-Allow-Origin: https://listed.example" in response

    @gen_test
    async def test_the_app_gets_every_request_as_sent(self):
        """Any method, any body: Tornado neither refuses nor parses them first
        (Django answers what it makes of them)."""
        for method, headers, body in AS_SENT:
            response = await self.raw(
                f"{method} /body/ HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                + headers
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert response.startswith(b"HTTP/1.1 200 "), (method, headers)
            seen = json.loads(response.split(b"\r\n\r\n", 1)[1])
            assert seen == {"method": method, "body": body.decode()}

    @gen_test
    async def test_underscored_forwarding_headers_are_dropped(self):
        """`X_Forwarded_For` cannot pass for the proxy's `X-Forwarded-For`."""
        response = await self.http_client.fetch(
            self.get_url("/headers/"),
            headers={"X-Forwarded-For": "203.0.113.9", "X_Forwarded_For": "10.9.0.1"},
        )
        seen = json.loads(response.body)
        assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"

    @gen_test
    async def test_drain_waits_for_http_requests_in_flight(self):
        """An HTTP request in a view when the drain starts still gets its reply."""
        pending = self.http_client.fetch(self.get_url("/wait/http"))
        await self.wsgi_app.arrived("http")
        drained = asyncio.ensure_future(
            self._app.process.drain(timeout=EVENT_TIMEOUT_SECONDS)
        )
        assert not drained.done()
        self.wsgi_app.gate("http").set()
        response = await pending
        await drained
        assert json.loads(response.body) == {"path": "/wait/http"}

    @gen_test
    async def test_socket_replies_carry_no_set_cookie(self):
        """The socket never uses cookies: Django's Set-Cookie is not relayed."""
        ws = await self.connect()
        reply = await self.ask(ws, url="/cookie/")
        assert reply["status"] == 200
        assert "Set-Cookie" not in reply["headers"]


class TestIpv6PerAddressCap(HandlerTestCase):
    config = {"max_connections_per_address": 1, "num_proxies": 1}

    @gen_test
    async def test_an_ipv6_client_is_capped_by_its_64(self):
        """Two addresses of one /64 share one connection slot; another /64 not."""
        await self.connect(**{"X-Forwarded-For": "2001:db8:1:2::1"})
        with pytest.raises(HTTPClientError) as refused:
            await self.connect(**{"X-Forwarded-For": "2001:db8:1:2::99"})
        assert refused.value.code == 429
        await self.connect(**{"X-Forwarded-For": "2001:db8:1:3::1"})


class TestAccessLog(HandlerTestCase):
    config = {"num_proxies": 1}

    @gen_test
    async def test_the_handshake_line_names_the_client_as_num_proxies_judges_it(self):
        """Behind the platform's router: the client's address, not the proxy's;
        the path without its query string. (The requests on the socket are
        Django's to log: tests/live/test_request_log.py.)"""
        with self.assertLogs("live.requests", level="INFO") as logged:
            await self.connect(
                path="/ws/api?secret=1", **{"X-Forwarded-For": "203.0.113.7"}
            )
        [line] = logged.output
        assert "websocket GET /ws/api 101" in line
        assert "client=203.0.113.7" in line and "secret" not in line
