"""
The request bridge: one message in, a WSGI request through the app, one reply out.

The path of a frame, top to bottom:

    frame   -> handlers.ApiSocketHandler.on_message: parse (protocol.py), limits
            -> process.LiveProcess.call_bridge: off the IOLoop, onto a Django thread
            -> Bridge.handle: build_environ, then the WSGI app
            -> Django: middleware, URL resolution, auth, permissions, throttles
            -> reply (protocol.reply): status, headers, parsed body
            -> handlers.ApiSocketHandler.send: back on the IOLoop, to the socket

Plain Python, no Tornado: it knows URLs and HTTP, nothing of any app. HTTP
methods only; SUBSCRIBE is the caller's business (it asks for a GET).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

from live.contract import TRANSPORT_MARK
from wsserver.protocol import QUERY_METHODS, Message, reply
from wsserver.wsgi import WSGIApp, as_http_servers_do


@dataclass(frozen=True, slots=True)  # one a socket: no __dict__
class Peer:
    """What the WebSocket handshake says about the client, for every message."""

    remote_addr: str
    host: str
    scheme: str = "http"
    server_name: str = "localhost"
    server_port: str = "80"
    # Proxy headers of the handshake, kept so Django judges identity and HTTPS
    # from them exactly as for HTTP (`NUM_PROXIES`, `SECURE_PROXY_SSL_HEADER`).
    proxy_headers: tuple[tuple[str, str], ...] = ()
    transport: str = "websocket"  # or "events": what the request log names


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _query_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_environ(message: Message, peer: Peer) -> dict:
    """The WSGI environ an HTTP client would produce for `message`."""
    parts = urlsplit(message.url)
    query = parts.query
    body = b""
    if message.method in QUERY_METHODS:
        if message.data:
            pairs = [
                (key, _query_value(item))
                for key, value in message.data.items()
                for item in (value if isinstance(value, list) else [value])
            ]
            query = "&".join(filter(None, [query, urlencode(pairs)]))
    elif message.data is not None:
        body = json.dumps(message.data, separators=(",", ":")).encode()

    environ = {
        "REQUEST_METHOD": message.method,
        "SCRIPT_NAME": "",
        # WSGI wants the decoded path as a string of bytes (PEP 3333).
        "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": peer.server_name,
        "SERVER_PORT": peer.server_port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": peer.remote_addr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": peer.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        TRANSPORT_MARK: peer.transport,
    }
    for name, value in message.headers.items():
        environ[_environ_key(name)] = value
    if message.token:
        environ["HTTP_AUTHORIZATION"] = f"JWT {message.token}"
    # The connection's own facts come last, so no message can override them.
    environ["HTTP_HOST"] = peer.host
    for name, value in peer.proxy_headers:
        environ[_environ_key(name)] = value
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def call_app(app: WSGIApp, environ: dict) -> Response:
    """Run `app` on `environ` and collect its whole response."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = headers
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        # Django's response.close() sends request_finished, which returns or
        # closes the thread's database connection, as after any HTTP request.
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Response(started["status"], started["headers"], b"".join(chunks))


def is_json(content_type: str) -> bool:
    """The rule for a body that `data` carries parsed (the browser client's
    `isJson`, live/static/live/client.js)."""
    media_type = content_type.split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def response_reply(message: Message, response: Response) -> dict:
    """The reply to `message` for `response`: `data` parsed when JSON, else text."""
    headers: dict[str, str] = {}
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            continue  # the socket never uses cookies: no session to set
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if not response.body:
        return reply(status=response.status, headers=headers, **message.echo)
    if is_json(headers.get("Content-Type", "")):
        data = json.loads(response.body)
    else:
        data = response.body.decode("utf-8", errors="replace")
    return reply(status=response.status, headers=headers, data=data, **message.echo)


class Bridge:
    """Serves messages through a WSGI application; safe to call from threads."""

    def __init__(self, app: WSGIApp):
        self.app = as_http_servers_do(app)

    def handle(self, message: Message, peer: Peer, marks: Mapping = {}) -> dict:
        """Answer `message`, an HTTP method, with its reply. `marks` go into the
        environ as they are: what the server tells the app (wsserver/credentials.py)."""
        environ = {**build_environ(message, peer), **marks}
        return response_reply(message, call_app(self.app, environ))
