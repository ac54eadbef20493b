"""
Protocol v1 on the wire: what a request frame may hold, and the one reply envelope.

A frame is JSON text; `parse_message` turns it into a `Message` or raises
`BadMessage`, answered with `reply()` like any other reply. No Tornado, no Django.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wsserver.strict_json import load_message_object

METHODS = "GET POST PUT PATCH DELETE HEAD OPTIONS SUBSCRIBE UNSUBSCRIBE".split()
# Methods whose `data` becomes the query string rather than a JSON body.
# live/static/live/client.js keeps the same list (QUERY_METHODS): change both together.
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"})
MAX_ID_LENGTH = 128
# The connection decides these, never the frame: identity, host and transport.
# Compared as WSGI sees them: `X_Forwarded_For` and `X-Forwarded-For` are one.
RESERVED_HEADERS = frozenset(
    "HOST COOKIE CONTENT_LENGTH CONTENT_TYPE FORWARDED X_REAL_IP X_FORWARDED_FOR "
    "X_FORWARDED_PROTO X_FORWARDED_HOST X_FORWARDED_PORT".split()
)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}
_NO_DATA = object()


def reply(
    *,
    status: int,
    id: str | float | None = None,
    method: str | None = None,
    url: str | None = None,
    headers: Mapping[str, str] = JSON_HEADERS,
    data: object = _NO_DATA,
    detail: str | None = None,
    retry_after: int | None = None,
) -> dict:
    """The reply envelope, for the application's answers and the server's alike.

    `detail` is short for `data={"detail": detail}`, the shape of every error the
    application never saw; `retry_after` adds the header a refusal carries; `id`,
    `method` and `url` are echoed when known (a frame without an `id`, or one
    too broken to read, gets a reply without)."""
    envelope = {} if id is None else {"id": id}
    envelope["status"] = status
    if method is not None:
        envelope["method"] = method
    if url is not None:
        envelope["url"] = url
    envelope["headers"] = dict(headers)
    if retry_after is not None:
        envelope["headers"]["Retry-After"] = str(retry_after)
    if detail is not None:
        data = {"detail": detail}
    if data is not _NO_DATA:
        envelope["data"] = data
    return envelope


def encode(frame: dict) -> str:
    """A frame as strict, compact JSON (no NaN or Infinity, which browsers refuse)."""
    return json.dumps(frame, separators=(",", ":"), allow_nan=False)


class BadMessage(Exception):
    """A frame that is not a valid request: a 400 with a detail, echoing what it can."""

    status = 400

    def __init__(self, detail: str, *, echo: Mapping = {}):
        super().__init__(detail)
        self.detail = detail
        self.echo = dict(echo)

    def reply(self) -> dict:
        return reply(status=self.status, detail=self.detail, **self.echo)


def readable_id(text: str | bytes) -> str | float | None:
    """The `id` of a frame refused before it is parsed as a request (over the
    frame budget), so its reply still names it; `None` if it has none."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    message_id = frame.get("id") if isinstance(frame, dict) else None
    return message_id if _valid_id(message_id) else None


class _Invalid(ValueError):
    """A field of an otherwise readable frame is wrong; `parse_message` echoes."""


@dataclass(frozen=True, slots=True)  # one per subscription: no __dict__
class Message:
    """A parsed, validated request frame."""

    url: str
    method: str = "GET"
    id: str | float | None = None
    data: object = None
    token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    since: str | None = None  # SUBSCRIBE only: resume after this position

    @property
    def echo(self) -> dict:
        """What every reply to this message repeats: `id`, `method`, `url`."""
        return {"id": self.id, "method": self.method, "url": self.url}


def parse_message(text: str | bytes) -> Message:
    """Validate one frame against protocol v1; raise `BadMessage` if it is not."""
    if isinstance(text, bytes):
        raise BadMessage("Binary frames are not supported; send JSON text frames.")
    try:
        frame = load_message_object(text)
    except ValueError as exc:
        raise BadMessage(str(exc)) from None
    method, url, message_id = (frame.get(k) for k in ("method", "url", "id"))
    method = "GET" if method is None else method
    echo = {
        "id": message_id if _valid_id(message_id) else None,
        "method": method.upper() if _valid_method(method) else None,
        "url": url if isinstance(url, str) and url.isprintable() else None,
    }
    try:
        return _message(frame, method=method, url=url)
    except _Invalid as exc:
        raise BadMessage(str(exc), echo=echo) from None


def _message(frame: dict, *, method, url) -> Message:
    if not _valid_id(frame.get("id")):
        raise _Invalid(
            f"'id' must be a string of {MAX_ID_LENGTH} at most, or a number."
        )
    if not _valid_method(method):
        raise _Invalid(f"'method' must be one of {', '.join(METHODS)}.")
    method = method.upper()
    _check_url(url)
    token = frame.get("token")
    if token is not None and not _header_value(token):  # "" means no token
        raise _Invalid("'token' must be a string of printable Latin-1 characters.")
    headers = {} if frame.get("headers") is None else frame["headers"]
    _check_headers(headers)
    if token and any(_environ_name(name) == "AUTHORIZATION" for name in headers):
        raise _Invalid("Give either 'token' or an Authorization header.")
    if method in QUERY_METHODS and frame.get("data") is not None:
        _check_query_data(frame["data"], method)
    if (since := frame.get("since")) is not None and not _short_string(since):
        raise _Invalid("'since' must be a position: a string.")
    data = frame.get("data")
    return Message(url, method, frame.get("id"), data, token, headers, since)


def _short_string(value) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH


def _valid_id(value) -> bool:
    return value is None or _short_string(value) or type(value) in (int, float)


def _valid_method(value) -> bool:
    return isinstance(value, str) and value.upper() in METHODS


def _header_value(value) -> bool:
    """Printable (no C0/C1 controls or line separators: safe in a log line) and
    Latin-1, since HTTP header values are bytes and WSGI carries them so."""
    printable = isinstance(value, str) and value.isprintable()
    return printable and all(ord(char) < 256 for char in value)


def _check_url(url) -> None:
    if not isinstance(url, str):
        raise _Invalid("'url' is required: a path starting with '/'.")
    if not url.startswith("/") or url.startswith("//"):
        raise _Invalid("'url' must be a path starting with '/', no scheme or host.")
    if not url.isprintable() or " " in url:
        raise _Invalid("'url' must not contain spaces or control characters.")
    if not url.isascii():
        raise _Invalid("'url' must be ASCII: percent-encode other characters.")


def _environ_name(header: str) -> str:
    return header.upper().replace("-", "_")


def _check_headers(headers) -> None:
    if not isinstance(headers, dict):
        raise _Invalid("'headers' must be an object of strings.")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise _Invalid(f"Header name {name!r} is not valid.")
        if _environ_name(name) in RESERVED_HEADERS:
            raise _Invalid(f"Header {name!r} is set by the connection, not a frame.")
        if not _header_value(value):
            raise _Invalid(f"Header {name!r} must be a string of printable Latin-1.")


def _check_query_data(data, method: str) -> None:
    if not isinstance(data, dict):
        raise _Invalid(f"'data' for {method} becomes the query string: give an object.")
    for value in data.values():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, (dict, list)) for item in values):
            raise _Invalid("Query 'data' values must be scalars or lists of them.")
