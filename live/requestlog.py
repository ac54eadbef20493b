"""
One log line per request, the same on every transport, and the request's id.

Django answers every request of every transport, so one middleware, first in
`MIDDLEWARE`, writes the line for all of them; the socket server writes the
same line, through `log_request`, for what it answers itself (a refusal before
Django). With `LOG_FORMAT=json` each line is a JSON object whose keys are the
fields below; otherwise readable text.
"""

import ipaddress
import logging
import re
import time
import uuid

from django.utils.functional import LazyObject

from live import metrics
from live.contract import (
    CHANGE_MARK,
    POSITION_MARK,
    SUBSCRIBE_MARK,
    TRANSPORT_MARK,
)

log = logging.getLogger("live.requests")

REQUEST_ID_HEADER = "X-Request-ID"
# What a router or client may name a request by (Heroku's router: a UUID);
# anything else, or nothing, gets an id of ours.
GIVEN_ID = re.compile(r"[\w.:/+=@-]{1,200}\Z", re.ASCII)


def request_id(given: str | None) -> str:
    """The id a request goes by: the one it came with if sane, else a new one."""
    if given and GIVEN_ID.match(given):
        return given
    return uuid.uuid4().hex


# The methods counted by name; any other counts as `other`, so that the number
# of series never depends on what clients send.
COUNTED_METHODS = frozenset(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "SUBSCRIBE"]
    + ["UNSUBSCRIBE"]
)


def printable(text: str) -> str:
    """`text` with control characters (and backslashes) escaped, so that no
    client-supplied value starts a forged line in a text log (as Django escapes
    its own request log since CVE-2025-48432)."""
    if text.isprintable() and "\\" not in text:
        return text
    return text.encode("unicode_escape").decode("ascii")


def client_address(text: str) -> str:
    """The client's address if it is one; `invalid` for anything else a
    forwarding header may carry."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return "invalid"
    return text


def log_request(
    *,
    transport: str,
    method: str,
    path: str,
    status: int,
    duration_ms: float,
    size: int | None,
    client: str,
    request_id: str | None,
    user: int | None = None,
    change: str | None = None,
) -> None:
    """Write the line for one request and count its reply."""
    counted = method if method in COUNTED_METHODS else "other"
    metrics.replies.labels(transport, counted, metrics.status_class(status)).inc()
    level = logging.INFO if status < 400 else logging.WARNING
    level = logging.ERROR if status >= 500 else level
    if not log.isEnabledFor(level):
        return
    method, path, client = printable(method), printable(path), client_address(client)
    fields = {
        "transport": transport,
        "method": method,
        "path": path,  # never the query string: it may hold secrets
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "bytes": size,
        "client": client,
        "user": user,
        "request_id": request_id,
    }
    if change is not None:
        fields["change"] = change
    text = " ".join(
        [
            f"{transport} {method} {path} {status} {duration_ms:.1f}ms",
            f"{size if size is not None else '-'}B client={client}",
            *([f"user={user}"] if user is not None else []),
            f"id={request_id}",
            *([f"change={change}"] if change is not None else []),
        ]
    )
    log.log(level, text, extra=fields)


def signed_in_user(request) -> int | None:
    """The user's id if the API authenticated the request (DRF sets
    `request.user`); a lazy user nobody looked at is not looked up for the log."""
    user = request.__dict__.get("user")
    if user is None or isinstance(user, LazyObject) or not user.is_authenticated:
        return None
    return user.pk


class RequestLogMiddleware:
    """Give each request its id (kept from `X-Request-ID` when it has one, and
    sent back in that header), then log it once it is answered."""

    def __init__(self, get_response):
        # DRF reads its settings as it is imported: only once Django is set up.
        from rest_framework.throttling import BaseThrottle

        self.get_response = get_response
        self.client_address = BaseThrottle().get_ident  # as `NUM_PROXIES` says

    def __call__(self, request):
        started = time.perf_counter()
        meta = request.META
        rid = request_id(meta.get("HTTP_X_REQUEST_ID"))
        meta["HTTP_X_REQUEST_ID"] = rid  # the app sees the id the log names
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = rid
        rendering = CHANGE_MARK in meta
        log_request(
            transport="render" if rendering else meta.get(TRANSPORT_MARK, "http"),
            method="SUBSCRIBE" if meta.get(SUBSCRIBE_MARK) else request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=(time.perf_counter() - started) * 1000,
            size=None if response.streaming else len(response.content),
            client=self.client_address(request),
            user=signed_in_user(request),
            request_id=rid,
            change=meta.get(POSITION_MARK) if rendering else None,
        )
        return response
