"""The WebSocket server over real sockets: protocol, concurrency and limits."""

import json
import socket
import uuid

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from live.testing import TIMEOUT, new_user, receive
from tests.conftest import PASSWORD, server_token
from tests.slow_urls import release

pytestmark = pytest.mark.django_db(transaction=True)

NOTES = "/api/notes/"


@pytest.fixture(scope="module")
def slow_server(server_factory):
    """A web process that also serves `/test/wait/<key>/`, with tight limits."""
    return server_factory(
        WS_MAX_IN_FLIGHT=3,
        WS_HANDSHAKE_TIMEOUT_SECONDS=1,
    )


def ask(ws, **message):
    """Send `message` as it is; the next frame."""
    ws.send(json.dumps(message))
    return receive(ws)


def test_seed_format_works_unchanged(web_server):
    """No id, a lowercase method and a `token`, as the 2014 seed sent them."""
    user = new_user("seed")
    with connect(web_server.ws_url) as ws:
        reply = ask(
            ws,
            method="post",
            url=NOTES,
            data={"text": "seed"},
            token=server_token(user),
        )
    assert "id" not in reply  # none was sent
    assert reply["status"] == 201
    assert reply["method"] == "POST"
    assert reply["data"]["owner"] == user.username


def test_pipelined_requests_are_matched_by_id(web_server):
    """100 requests sent at once get 100 replies, each carrying its request's id."""
    with connect(web_server.ws_url) as ws:
        for number in range(100):
            ws.send(json.dumps({"id": f"r{number}", "url": f"{NOTES}?n={number}"}))
        replies = [receive(ws) for _ in range(100)]
    assert sorted(reply["id"] for reply in replies) == sorted(
        f"r{number}" for number in range(100)
    )
    assert all(reply["url"] == f"{NOTES}?n={reply['id'][1:]}" for reply in replies)
    assert {reply["status"] for reply in replies} == {200}


def test_slow_view_delays_no_other_connection(slow_server):
    """While one request waits in a view, other connections get replies and pongs."""
    key = uuid.uuid4().hex
    with connect(slow_server.ws_url) as slow, connect(slow_server.ws_url) as other:
        slow.send(json.dumps({"id": "slow", "url": f"/test/wait/{key}/"}))
        for number in range(5):
            assert ask(other, id=number, url=NOTES)["status"] == 200
        assert other.ping().wait(TIMEOUT)
        with pytest.raises(TimeoutError):
            slow.recv(timeout=0.1)  # still waiting in the view
        release(key)
        reply = receive(slow)
    assert reply["id"] == "slow"
    assert reply["data"] == {"released": True}


def test_slow_request_does_not_hold_back_later_replies_on_its_connection(
    slow_server,
):
    """Replies come back as they are ready, in any order; ids match them."""
    key = uuid.uuid4().hex
    with connect(slow_server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": f"/test/wait/{key}/"}))
        assert ask(ws, id=2, url=NOTES)["id"] == 2
        release(key)
        assert receive(ws)["id"] == 1


def test_json_nested_too_deep_in_data_is_400_from_django(web_server):
    """`data` deeper than JSON_MAX_DEPTH is refused by the same parser as HTTP."""
    deep = {"text": "t", "x": []}
    node = deep["x"]
    for _ in range(40):
        node.append([])
        node = node[0]
    token = server_token(new_user("deep"))
    with connect(web_server.ws_url) as ws:
        reply = ask(ws, method="POST", url=NOTES, data=deep, token=token)
    assert reply["status"] == 400
    assert "nested deeper than 32" in reply["data"]["detail"]


def test_unknown_url_is_404(web_server):
    """A URL Django does not know is a 404 reply, as over HTTP."""
    with connect(web_server.ws_url) as ws:
        assert ask(ws, url="/no/such/thing/")["status"] == 404


def test_oversized_frame_closes_with_1009(web_server):
    """A frame over WS_MAX_MESSAGE_BYTES (64 KiB) closes the connection with 1009."""
    with connect(web_server.ws_url, max_size=None) as ws:
        ws.send(json.dumps({"url": NOTES, "data": {"x": "a" * 70_000}}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=TIMEOUT)
    assert ws.close_code == 1009


def test_page_of_the_same_origin_is_accepted(web_server):
    """A page served by this server (same scheme, host and port) may connect."""
    with connect(web_server.ws_url, origin=web_server.url) as ws:
        assert ask(ws, url=NOTES)["status"] == 200


def test_page_on_another_port_of_the_same_host_is_refused(web_server):
    """`http://localhost:9999` is another origin, even on a `localhost` app."""
    with pytest.raises(InvalidStatus) as refused:
        connect(web_server.ws_url, origin="http://127.0.0.1:9999")
    assert refused.value.response.status_code == 403


def test_listed_origin_is_accepted(server_factory):
    """ALLOWED_ORIGINS admits a page served elsewhere."""
    server = server_factory(ALLOWED_ORIGINS="https://demo.example")
    with connect(server.ws_url, origin="https://demo.example") as ws:
        assert ask(ws, url=NOTES)["status"] == 200


def test_connections_over_the_limit_get_503(server_factory):
    """Past WS_MAX_CONNECTIONS, the handshake is refused with 503."""
    server = server_factory(WS_MAX_CONNECTIONS=2)
    with connect(server.ws_url), connect(server.ws_url):
        with pytest.raises(InvalidStatus) as refused:
            connect(server.ws_url)
    assert refused.value.response.status_code == 503
    with connect(server.ws_url) as ws:  # a slot is free again
        assert ask(ws, url=NOTES)["status"] == 200


def test_http_and_websocket_share_one_throttle_bucket(server_factory):
    """One client's HTTP and WebSocket requests count against one limit."""
    server = server_factory(ANON_THROTTLE_RATE="4/min")
    assert requests.get(f"{server.url}{NOTES}").status_code == 200
    assert requests.get(f"{server.url}{NOTES}").status_code == 200
    with connect(server.ws_url) as ws:
        assert ask(ws, url=NOTES)["status"] == 200
        assert ask(ws, url=NOTES)["status"] == 200
        over = ask(ws, url=NOTES)
    assert over["status"] == 429
    assert int(over["headers"]["Retry-After"]) >= 1
    assert requests.get(f"{server.url}{NOTES}").status_code == 429


def test_forwarding_headers_spelled_with_underscores_dodge_no_throttle(
    server_factory,
):
    """Behind one proxy, `X_Forwarded_For` cannot pose as a new client: over
    HTTP it is dropped, over WebSocket it is a 400."""
    server = server_factory(NUM_PROXIES=1, ANON_THROTTLE_RATE="5/min")
    statuses = [
        requests.get(
            f"{server.url}{NOTES}",
            headers={
                "X-Forwarded-For": "203.0.113.1",
                "X_Forwarded_For": f"10.9.0.{number}",
            },
        ).status_code
        for number in range(12)
    ]
    assert statuses == [200] * 5 + [429] * 7
    with connect(
        server.ws_url, additional_headers={"X-Forwarded-For": "203.0.113.2"}
    ) as ws:
        for number in range(12):
            reply = ask(ws, url=NOTES, headers={"X_Forwarded_For": f"10.9.0.{number}"})
            assert reply["status"] == 400


def test_handshake_cookies_are_not_credentials(web_server):
    """A session cookie on the handshake does not sign the socket in."""
    owner = new_user("cookie-owner", password=PASSWORD)
    with connect(web_server.ws_url) as ws:
        owned = ask(
            ws,
            method="POST",
            url=NOTES,
            data={"text": "t", "shared": True},
            token=server_token(owner),
        )["data"]
    session = requests.Session()
    login = session.get(f"{web_server.url}/api-auth/login/")
    session.post(
        f"{web_server.url}/api-auth/login/",
        data={
            "username": owner.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": login.cookies["csrftoken"],
        },
        # The test server runs without DEBUG, so its cookies are marked Secure
        # and would not be sent back over plain HTTP: send them explicitly.
        cookies={"csrftoken": login.cookies["csrftoken"]},
        headers={"Referer": f"{web_server.url}/api-auth/login/"},
    )
    cookie = "; ".join(f"{key}={value}" for key, value in session.cookies.items())
    assert "sessionid" in cookie
    with connect(web_server.ws_url, additional_headers={"Cookie": cookie}) as ws:
        reply = ask(ws, method="DELETE", url=f"{NOTES}{owned['id']}/")
    assert reply["status"] == 401


def test_trickled_handshake_is_dropped(slow_server):
    """A client that never finishes its handshake is cut off, not kept for an hour."""
    with socket.create_connection(("127.0.0.1", slow_server.port)) as sock:
        sock.sendall(b"GET /ws/api HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.settimeout(TIMEOUT)
        assert sock.recv(1024) == b""  # closed by the server


def test_trickled_body_is_dropped(slow_server):
    """A request body that stalls is cut off after the timeout, not waited for."""
    with socket.create_connection(("127.0.0.1", slow_server.port)) as sock:
        sock.sendall(
            b"POST /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.settimeout(TIMEOUT)
        assert sock.recv(1024) == b""  # closed by the server


def test_each_bridged_request_is_logged_once_without_token_or_query(web_server):
    """One log line per request: transport, method, path, status, ms, client,
    request id; no token, and no query string over either transport (it may
    hold secrets)."""
    token = server_token(new_user("logged"))
    marker = uuid.uuid4().hex
    with connect(web_server.ws_url) as ws:
        ask(
            ws,
            id=1,
            url=f"{NOTES}?secret={marker}x",
            token=token,
            headers={"X-Request-ID": marker},
        )
    requests.get(f"{web_server.url}{NOTES}?secret={marker}y")
    lines = [line for line in web_server.log().splitlines() if marker in line]
    assert len(lines) == 1
    assert f"websocket GET {NOTES} 200" in lines[0]
    assert "client=127.0.0.1" in lines[0] and f"id={marker}" in lines[0]
    assert f"{marker}x" not in lines[0]
    assert f"{marker}y" not in web_server.log()
    assert token not in web_server.log()


@pytest.mark.parametrize(
    "request_line, headers",
    [
        (b"GET /api/notes/?page=\xe2\x82\xac HTTP/1.1", b""),
        (b"GET /api/notes/ HTTP/1.1", b"Authorization: Bearer \xe2\x82\xac\r\n"),
        (b"GET /api/notes/\xed\xa0\x80/ HTTP/1.1", b""),
    ],
)
def test_bytes_outside_ascii_over_http_are_a_client_error(
    web_server, request_line, headers
):
    """What is a 400 over the socket is a 4xx over HTTP too, never a 500."""
    with socket.create_connection(("127.0.0.1", web_server.port)) as sock:
        sock.sendall(
            request_line + b"\r\nHost: 127.0.0.1\r\n" + headers
            + b"Connection: close\r\n\r\n"
        )  # fmt: skip
        sock.settimeout(TIMEOUT)
        status_line = sock.recv(1024).split(b"\r\n")[0]
    assert 400 <= int(status_line.split()[1]) < 500, status_line


def test_http_responses_that_set_cookies_are_served(web_server):
    """Django's Set-Cookie values (with a leading space) reach HTTP clients."""
    response = requests.get(f"{web_server.url}/api-auth/login/", timeout=TIMEOUT)
    assert response.status_code == 200
    assert "csrftoken" in response.cookies


def test_peer_that_stops_answering_pings_is_dropped(server_factory):
    """A client that never answers pings is closed, freeing its slot."""
    server = server_factory(WS_PING_INTERVAL_SECONDS=1)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"GET /ws/api HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.settimeout(TIMEOUT)
        received = b""
        while chunk := sock.recv(4096):  # pings, then a close, then EOF
            received += chunk
            if b"\x88" in chunk:  # the close frame (no other byte is 0x88 here)
                # Answered, as a client does, so the server drops the connection
                # now rather than after Tornado's wait for the answer.
                sock.sendall(b"\x88\x80\x00\x00\x00\x00")
    assert b" 101 " in received
    assert b"\x89" in received  # a ping frame was sent
    assert b"ping timed out" in received


def test_subscriptions_sent_together_count_against_the_cap(server_factory):
    """SUBSCRIBEs still being answered count: a burst past
    WS_MAX_SUBSCRIPTIONS is refused at once, however it is timed."""
    server = server_factory(WS_MAX_SUBSCRIPTIONS=2)
    key = uuid.uuid4().hex
    urls = [NOTES, f"{NOTES}?shared=true", f"{NOTES}?search=a", "/api/my-notes/", "/x/"]
    with connect(server.ws_url) as ws:
        for number, url in enumerate(urls):  # each one's GET waits for the test
            frame = {"id": number, "method": "SUBSCRIBE", "url": url}
            ws.send(json.dumps({**frame, "headers": {"X-Test-Wait": key}}))
        refused = [receive(ws) for _ in range(3)]
        assert {(r["id"], r["status"]) for r in refused} == {
            (2, 429),
            (3, 429),
            (4, 429),
        }
        for _ in range(2):
            release(key)
        replies = [receive(ws) for _ in range(2)]
        assert {(r["id"], r["status"]) for r in replies} == {(0, 200), (1, 200)}


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "BREW"])
def test_a_method_the_api_does_not_take_is_django_s_405_with_allow(web_server, method):
    """Django answers any method, as RFC 9110 asks: 405, an `Allow` header, JSON
    (once signed in: DRF checks permissions first, and only a reader may be
    anonymous here)."""
    headers = {"Authorization": f"JWT {server_token(new_user('asker'))}"}
    response = requests.request(method, f"{web_server.url}{NOTES}", headers=headers)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "detail" in response.json()
