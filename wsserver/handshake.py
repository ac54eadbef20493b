"""What a WebSocket handshake says about the client, and whether to accept it."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host
from tornado.httputil import HTTPServerRequest

from live.contract import address_group
from wsserver.bridge import Peer

PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto")
DEFAULT_PORTS = {"http": "80", "https": "443"}


def client_address(request: HTTPServerRequest, *, num_proxies: int) -> str:
    """The client's address as Django REST framework judges it (`NUM_PROXIES`):
    the peer's, or the one `num_proxies` trusted proxies put in X-Forwarded-For."""
    forwarded = request.headers.get("X-Forwarded-For")
    if not num_proxies or forwarded is None:
        return request.remote_ip
    addresses = forwarded.split(",")
    return addresses[-min(num_proxies, len(addresses))].strip()


def scheme(request: HTTPServerRequest, *, num_proxies: int) -> str:
    """`https` when the client's connection is, even if a proxy terminated TLS."""
    forwarded = request.headers.get("X-Forwarded-Proto", "")
    # The first value, as Django reads it (SECURE_PROXY_SSL_HEADER).
    if num_proxies and forwarded.split(",")[0].strip() == "https":
        return "https"
    return request.protocol


def plain_refused(request: HTTPServerRequest, *, num_proxies: int) -> bool:
    """Whether this plain `ws://` (or `http://` stream) handshake is refused: the
    site is HTTPS only (`SECURE_SSL_REDIRECT`), and every frame over it would be
    answered with a redirect."""
    insecure = scheme(request, num_proxies=num_proxies) != "https"
    return insecure and settings.SECURE_SSL_REDIRECT


def host_allowed(request: HTTPServerRequest) -> bool:
    """Return `True` if the handshake's Host is one this app serves."""
    domain, _port = split_domain_port(request.host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def normal_origin(origin: str) -> str | None:
    """`scheme://host[:port]` in lower case, without the scheme's default port;
    `None` for anything that is not an origin (`null`, say)."""
    parts = urlsplit(origin.strip().lower())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = port is None or str(port) == DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}" + ("" if default else f":{port}")


def origin_allowed(
    origin: str,
    request: HTTPServerRequest,
    *,
    allowed_origins: tuple[str, ...],
    num_proxies: int,
) -> bool:
    """Return `True` if a page from `origin` may open a socket or a stream: a
    page of this very origin (scheme, host and port), or one listed in
    `ALLOWED_ORIGINS`. A page elsewhere must not act with a visitor's identity."""
    own = f"{scheme(request, num_proxies=num_proxies)}://{request.host}"
    candidates = {normal_origin(own), *map(normal_origin, allowed_origins)}
    return normal_origin(origin) in candidates - {None}


def peer_from(request: HTTPServerRequest, *, transport: str = "websocket") -> Peer:
    """The facts every message on this socket carries into its WSGI request."""
    server_name, server_port = split_domain_port(request.host)
    # Names every socket of a host shares, each held once (interned).
    return Peer(
        remote_addr=request.remote_ip,
        host=sys.intern(request.host),
        scheme=request.protocol,
        server_name=sys.intern(server_name or "localhost"),
        server_port=sys.intern(
            server_port or DEFAULT_PORTS.get(request.protocol, "80")
        ),
        # Handshake cookies are deliberately absent: a page on another site
        # must not act with a visitor's session. The token is the credential.
        proxy_headers=tuple(
            (name, request.headers[name])
            for name in PROXY_HEADERS
            if name in request.headers
        ),
        transport=transport,
    )


class ClientConnection:
    """What a socket and an event stream share (a mixin for `RequestHandler`s):
    the live process and its limits, the client's address, and a plain JSON refusal
    before any upgrade or stream begins."""

    def initialize(self):
        # As the per-address limits judge it (an IPv6 client by its /64).
        self.address = address_group(
            client_address(self.request, num_proxies=self.config.num_proxies)
        )

    # Read from the application, not kept on each connection (see SocketState).
    process = property(lambda self: self.application.process)
    config = property(lambda self: self.application.config)

    def origin_admitted(self) -> bool:
        """No `Origin` (no page asked), or a page's that may connect."""
        origin = self.request.headers.get("Origin")
        return origin is None or origin_allowed(
            origin,
            self.request,
            allowed_origins=self.config.allowed_origins,
            num_proxies=self.config.num_proxies,
        )

    def refuse_connection(self, status: int, detail: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"detail": detail}))
