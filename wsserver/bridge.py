"""
The request bridge: one WebSocket message in, one reply frame out.

A message becomes a WSGI environ and goes through the WSGI application (Django's
full handler stack: middleware, URL resolution, authentication, permissions,
throttles, exception handling, request signals), exactly like an HTTP request.
Plain Python, no Tornado: it knows URLs and HTTP, nothing of any app.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
SUBSCRIPTION_METHODS = frozenset({"SUBSCRIBE", "UNSUBSCRIBE"})
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"})
MAX_ID_LENGTH = 128
# The connection decides these, never the frame: identity, host and transport.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "cookie",
        "content-length",
        "content-type",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "forwarded",
    }
)
HEADER_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class BadMessage(Exception):
    """A frame the bridge cannot turn into a request; answered, never raised on."""

    def __init__(
        self, detail: str, *, status: int = 400, id=None, method=None, url=None
    ):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.id = id
        self.method = method
        self.url = url

    def reply(self) -> dict:
        return error_reply(
            id=self.id,
            status=self.status,
            detail=self.detail,
            method=self.method,
            url=self.url,
        )


@dataclass(frozen=True)
class Message:
    """A parsed, validated request frame."""

    url: str
    method: str = "GET"
    id: str | int | float | None = None
    data: object = None
    token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def error(self, *, status: int, detail: str) -> dict:
        """A reply to this message that the application never saw."""
        return error_reply(
            id=self.id, status=status, detail=detail, method=self.method, url=self.url
        )


@dataclass(frozen=True)
class Connection:
    """What the WebSocket handshake says about the client, for every frame."""

    remote_addr: str
    host: str
    scheme: str = "http"
    server_name: str = "localhost"
    server_port: str = "80"
    # Proxy headers of the handshake, kept so Django judges identity and HTTPS
    # from them exactly as for HTTP (`NUM_PROXIES`, `SECURE_PROXY_SSL_HEADER`).
    proxy_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_reply(*, id=None, status: int, detail: str, method=None, url=None) -> dict:
    """A reply frame for a request that never reached the application."""
    reply = {"id": id, "status": status}
    if method is not None:
        reply["method"] = method
    if url is not None:
        reply["url"] = url
    reply["headers"] = {"Content-Type": "application/json"}
    reply["data"] = {"detail": detail}
    return reply


def parse_message(text: str | bytes) -> Message:
    """Validate one frame against protocol v1; raise `BadMessage` if it is not."""
    if isinstance(text, bytes):
        raise BadMessage("Binary frames are not supported; send JSON text frames.")
    try:
        frame = json.loads(text)
    except RecursionError:
        raise BadMessage("Message is nested too deeply.") from None
    except ValueError as exc:
        raise BadMessage(f"Message is not valid JSON: {exc}.") from None
    if not isinstance(frame, dict):
        raise BadMessage("Message must be a JSON object.")

    message_id = frame.get("id")
    if not _valid_id(message_id):
        raise BadMessage(
            f"'id' must be a string of at most {MAX_ID_LENGTH} characters or a number."
        )
    url = frame.get("url")
    method = frame.get("method", "GET")
    echo = {"id": message_id, "url": url if isinstance(url, str) else None}
    if not isinstance(method, str) or method.upper() not in (
        HTTP_METHODS | SUBSCRIPTION_METHODS
    ):
        raise BadMessage(
            "'method' must be one of "
            + ", ".join(sorted(HTTP_METHODS | SUBSCRIPTION_METHODS))
            + ".",
            **echo,
        )
    method = method.upper()
    echo["method"] = method
    if not isinstance(url, str):
        raise BadMessage("'url' is required: a path starting with '/'.", **echo)
    _check_url(url, echo)

    token = frame.get("token")
    if token is not None and not (isinstance(token, str) and _printable(token)):
        raise BadMessage("'token' must be a string.", **echo)
    headers = frame.get("headers")
    headers = {} if headers is None else headers
    _check_headers(headers, echo)
    if token and any(name.lower() == "authorization" for name in headers):
        raise BadMessage("Give either 'token' or an Authorization header.", **echo)
    data = frame.get("data")
    if method in QUERY_METHODS and data is not None:
        _check_query_data(data, echo)
    return Message(
        url=url,
        method=method,
        id=message_id,
        data=data,
        token=token or None,
        headers=headers,
    )


def _valid_id(value) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return len(value) <= MAX_ID_LENGTH
    return isinstance(value, (int, float))


def _printable(text: str) -> bool:
    return not any(ord(char) < 32 or ord(char) == 127 for char in text)


def _check_url(url: str, echo: dict) -> None:
    if not url.startswith("/") or url.startswith("//"):
        raise BadMessage(
            "'url' must be a path starting with '/', without scheme or host.", **echo
        )
    if not _printable(url) or " " in url:
        raise BadMessage("'url' must not contain spaces or control characters.", **echo)


def _check_headers(headers, echo: dict) -> None:
    if not isinstance(headers, dict):
        raise BadMessage("'headers' must be an object of strings.", **echo)
    for name, value in headers.items():
        if not name or not set(name) <= HEADER_NAME_CHARS:
            raise BadMessage(f"Header name {name!r} is not valid.", **echo)
        if name.lower() in RESERVED_HEADERS:
            raise BadMessage(
                f"Header {name!r} is set by the connection, not by a message.", **echo
            )
        if not isinstance(value, str) or not _printable(value):
            raise BadMessage(f"Header {name!r} must be a string.", **echo)


def _check_query_data(data, echo: dict) -> None:
    if not isinstance(data, dict):
        raise BadMessage(
            f"'data' for {echo['method']} becomes the query string: give an object.",
            **echo,
        )
    for value in data.values():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, (dict, list)) for item in values):
            raise BadMessage(
                "Query 'data' values must be strings, numbers, booleans or lists "
                "of them.",
                **echo,
            )


def _query_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_environ(message: Message, connection: Connection, *, method: str) -> dict:
    """The WSGI environ an HTTP client would produce for `message`."""
    parts = urlsplit(message.url)
    query = parts.query
    body = b""
    if method in QUERY_METHODS:
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
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # WSGI wants the decoded path as a string of bytes (PEP 3333).
        "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": connection.server_name,
        "SERVER_PORT": connection.server_port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": connection.remote_addr,
        "HTTP_HOST": connection.host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": connection.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in connection.proxy_headers.items():
        environ[_environ_key(name)] = value
    for name, value in message.headers.items():
        environ[_environ_key(name)] = value
    if message.token:
        environ["HTTP_AUTHORIZATION"] = f"JWT {message.token}"
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


def make_reply(message: Message, response: Response, *, method: str) -> dict:
    """The reply frame for `response`: `data` parsed when JSON, else text."""
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    reply = {
        "id": message.id,
        "status": response.status,
        "method": method,
        "url": message.url,
        "headers": headers,
    }
    if response.body:
        content_type = headers.get("Content-Type", "").split(";")[0].strip()
        if content_type == "application/json" or content_type.endswith("+json"):
            reply["data"] = json.loads(response.body)
        else:
            reply["data"] = response.body.decode("utf-8", errors="replace")
    return reply


def as_http_servers_do(app):
    """Wrap a WSGI app with two things HTTP servers do that Django leaves to them.

    Header values lose surrounding white space: Django sends `Set-Cookie` values
    with a leading space (`SimpleCookie.output(header="")`), which most servers
    trim and Tornado's `WSGIContainer` rejects, leaving the client waiting. And
    a HEAD response has no body: Django returns GET's, which must not be sent.
    """

    def wrapped_app(environ, start_response):
        def trimmed_start_response(status, headers, exc_info=None):
            headers = [(name, value.strip()) for name, value in headers]
            return start_response(status, headers, exc_info)

        result = app(environ, trimmed_start_response)
        if environ["REQUEST_METHOD"] != "HEAD":
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()  # request_finished, as after any response
        return []

    return wrapped_app


class Bridge:
    """Serves parsed messages through a WSGI application; safe to call from threads."""

    def __init__(self, app: WSGIApp):
        self.app = as_http_servers_do(app)

    def handle(
        self, message: Message, connection: Connection, *, method: str | None = None
    ) -> dict:
        """Answer `message` (as `method`, default its own) with a reply frame."""
        method = method or message.method
        environ = build_environ(message, connection, method=method)
        response = call_app(self.app, environ)
        return make_reply(message, response, method=message.method)
