"""`make_app()`: the Tornado application that gunicorn's workers and
`python -m wsserver` serve."""

from __future__ import annotations

import os
import resource
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from tornado.wsgi import WSGIContainer

from wsserver.bridge import Bridge, as_http_servers_do
from wsserver.config import ServerConfig
from wsserver.events import EventFanout
from wsserver.handlers import ApiSocketHandler
from wsserver.hub import Hub

WEBSOCKET_PATH = r"/ws/api"


def make_app(config: ServerConfig | None = None) -> tornado.web.Application:
    """`/ws/api` through the bridge; every other path to the WSGI app.

    Both share one bounded thread pool, so Django never runs on the IOLoop.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "snippets.settings")
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    wsgi_app = get_wsgi_application()
    config = config or ServerConfig.from_settings()
    # Each connection is a file descriptor; many systems start at a soft 1024.
    raise_open_file_limit(config.max_connections + 256)
    executor = ThreadPoolExecutor(config.threads, thread_name_prefix="django")
    bridge = Bridge(wsgi_app)
    # The app publishes its change events on this channel (the only contract
    # between the two, besides URLs): `{"event", "url", "data"}` as JSON.
    fanout = EventFanout(
        redis_url=settings.REDIS_URL, channel=f"{settings.REDIS_KEY_PREFIX}:events"
    )
    hub = Hub(bridge=bridge, executor=executor, fanout=fanout)
    return tornado.web.Application(
        [
            (
                WEBSOCKET_PATH,
                ApiSocketHandler,
                {"hub": hub, "config": config},
            ),
            (
                r".*",
                tornado.web.FallbackHandler,
                {
                    "fallback": WSGIContainer(
                        as_http_servers_do(wsgi_app), executor=executor
                    )
                },
            ),
        ],
        websocket_max_message_size=config.max_message_bytes,
        websocket_ping_interval=config.ping_interval_seconds,
        websocket_ping_timeout=config.ping_interval_seconds,
        hub=hub,
        server_config=config,
    )


def raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit on open files toward `wanted`, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def server_options(config: ServerConfig) -> dict:
    """`HTTPServer` options: handshakes and idle HTTP connections time out."""
    return {
        # Tornado's default is an hour; a trickled handshake must not hold a slot.
        "idle_connection_timeout": config.handshake_timeout_seconds,
        "xheaders": False,  # Django reads proxy headers itself (NUM_PROXIES)
    }
