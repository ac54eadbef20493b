"""
Protocol v1 on the wire: what a request frame may hold, and the one reply envelope.

A frame is JSON text; `parse_message` turns it into a `Message` or raises
`BadMessage`, which the server answers with `reply()` like any other reply.
Plain Python: no Tornado, no Django.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
METHODS = (*HTTP_METHODS, "SUBSCRIBE", "UNSUBSCRIBE")
# Methods whose `data` becomes the query string rather than a JSON body.
# static/js/client.js keeps the same list (QUERY_METHODS): change both together.
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"})
MAX_ID_LENGTH = 128
# The connection decides these, never the frame: identity, host and transport.
# Compared as WSGI sees them (`X_Forwarded_For` and `X-Forwarded-For` are one).
RESERVED_HEADERS = frozenset(
    {
        "HOST",
        "COOKIE",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "X_FORWARDED_FOR",
        "X_FORWARDED_PROTO",
        "X_FORWARDED_HOST",
        "X_FORWARDED_PORT",
        "X_REAL_IP",
        "FORWARDED",
    }
)
HEADER_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}
_NO_DATA = object()


def reply(
    *,
    status: int,
    id: str | int | float | None = None,
    method: str | None = None,
    url: str | None = None,
    headers: Mapping[str, str] = JSON_HEADERS,
    data: object = _NO_DATA,
    detail: str | None = None,
) -> dict:
    """The reply envelope, for the application's answers and the server's alike.

    `detail` is shorthand for `data={"detail": detail}`, the shape of every error
    the application never saw. `method` and `url` are echoed when known.
    """
    envelope = {"id": id, "status": status}
    if method is not None:
        envelope["method"] = method
    if url is not None:
        envelope["url"] = url
    envelope["headers"] = dict(headers)
    if detail is not None:
        data = {"detail": detail}
    if data is not _NO_DATA:
        envelope["data"] = data
    return envelope


def encode(frame: dict) -> str:
    """A frame as strict, compact JSON (no NaN or Infinity, which browsers refuse)."""
    return json.dumps(frame, separators=(",", ":"), allow_nan=False)


class BadMessage(Exception):
    """A frame that is not a valid request; answered with its `status` and detail."""

    def __init__(self, detail: str, *, status: int = 400, echo: Mapping = {}):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.echo = dict(echo)

    def reply(self) -> dict:
        return reply(status=self.status, detail=self.detail, **self.echo)


class _Invalid(ValueError):
    """A field of an otherwise readable frame is wrong; `parse_message` echoes."""


@dataclass(frozen=True)
class Message:
    """A parsed, validated request frame."""

    url: str
    method: str = "GET"
    id: str | int | float | None = None
    data: object = None
    token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def echo(self) -> dict:
        """What every reply to this message repeats: `id`, `method`, `url`."""
        return {"id": self.id, "method": self.method, "url": self.url}


def parse_message(text: str | bytes) -> Message:
    """Validate one frame against protocol v1; raise `BadMessage` if it is not."""
    if isinstance(text, bytes):
        raise BadMessage("Binary frames are not supported; send JSON text frames.")
    frame = _load(text)
    echo = _echo(frame)
    try:
        return _message(frame)
    except _Invalid as exc:
        raise BadMessage(str(exc), echo=echo) from None


def _load(text: str) -> dict:
    try:
        frame = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        raise BadMessage("Message is nested too deeply.") from None
    except ValueError as exc:
        raise BadMessage(f"Message is not valid JSON: {exc}.") from None
    if not isinstance(frame, dict):
        raise BadMessage("Message must be a JSON object.")
    return frame


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range")
    return number


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate!r}")
    return result


def _echo(frame: dict) -> dict:
    """The frame's own `id`, `method` and `url`, where they can be repeated safely."""
    message_id = frame.get("id")
    method = frame.get("method", "GET")
    url = frame.get("url")
    return {
        "id": message_id if _valid_id(message_id) else None,
        "method": method.upper() if _valid_method(method) else None,
        "url": url if isinstance(url, str) and _printable(url) else None,
    }


def _message(frame: dict) -> Message:
    message_id = frame.get("id")
    if not _valid_id(message_id):
        raise _Invalid(
            f"'id' must be a string of at most {MAX_ID_LENGTH} characters or a number."
        )
    method = frame.get("method", "GET")
    if not _valid_method(method):
        raise _Invalid(f"'method' must be one of {', '.join(METHODS)}.")
    method = method.upper()
    url = frame.get("url")
    if not isinstance(url, str):
        raise _Invalid("'url' is required: a path starting with '/'.")
    _check_url(url)
    token = frame.get("token")
    if token is not None:
        _check_token(token)
    headers = frame.get("headers")
    headers = {} if headers is None else headers
    _check_headers(headers)
    if token and any(_environ_name(name) == "AUTHORIZATION" for name in headers):
        raise _Invalid("Give either 'token' or an Authorization header.")
    data = frame.get("data")
    if method in QUERY_METHODS and data is not None:
        _check_query_data(data, method)
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


def _valid_method(value) -> bool:
    return isinstance(value, str) and value.upper() in METHODS


def _printable(text: str) -> bool:
    """No C0 or C1 controls, line or paragraph separators: safe in a log line."""
    return text.isprintable()


def _latin1(text: str) -> bool:
    """HTTP header values are bytes; WSGI carries them as Latin-1 strings."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _check_url(url: str) -> None:
    if not url.startswith("/") or url.startswith("//"):
        raise _Invalid(
            "'url' must be a path starting with '/', without scheme or host."
        )
    if not _printable(url) or " " in url:
        raise _Invalid("'url' must not contain spaces or control characters.")
    if not url.isascii():
        raise _Invalid("'url' must be ASCII: percent-encode other characters.")


def _check_token(token) -> None:
    if not isinstance(token, str) or not _printable(token) or not _latin1(token):
        raise _Invalid("'token' must be a string of printable Latin-1 characters.")


def _environ_name(header: str) -> str:
    return header.upper().replace("-", "_")


def _check_headers(headers) -> None:
    if not isinstance(headers, dict):
        raise _Invalid("'headers' must be an object of strings.")
    for name, value in headers.items():
        if not name or not set(name) <= HEADER_NAME_CHARS:
            raise _Invalid(f"Header name {name!r} is not valid.")
        if _environ_name(name) in RESERVED_HEADERS:
            raise _Invalid(
                f"Header {name!r} is set by the connection, not by a message."
            )
        if not isinstance(value, str) or not _printable(value) or not _latin1(value):
            raise _Invalid(
                f"Header {name!r} must be a string of printable Latin-1 characters."
            )


def _check_query_data(data, method: str) -> None:
    if not isinstance(data, dict):
        raise _Invalid(f"'data' for {method} becomes the query string: give an object.")
    for value in data.values():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(item, (dict, list)) for item in values):
            raise _Invalid(
                "Query 'data' values must be strings, numbers, booleans or lists "
                "of them."
            )
