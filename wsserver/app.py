"""`make_app()`: the Tornado application that gunicorn's workers and
`python -m wsserver` serve, and the `shutdown()` both use."""

from __future__ import annotations

import gc
import os
import resource
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.routing import AnyMatches, PathMatches, RuleRouter

from live.conf import live_settings
from live.limits import ServerConfig
from wsserver.bridge import Bridge
from wsserver.handlers import ApiSocketHandler
from wsserver.history import History
from wsserver.http import BodyLimit, DjangoContainer, log_request
from wsserver.process import LiveProcess
from wsserver.sse import EventStreamHandler
from wsserver.wsgi import WSGIApp

WEBSOCKET_PATH = r"/ws/api"
EVENT_STREAM_PATH = r"/ws/events"


class SocketApplication(tornado.web.Application):
    """`/ws/api` through the bridge and `/ws/events`; every other path to the
    WSGI app, untouched by Tornado's handlers (`OnePort`).

    Both share one bounded thread pool and its queue, so Django never runs on
    the IOLoop and a flood of either kind is refused, not queued without end.
    """

    def __init__(self, *, wsgi_app: WSGIApp, config: ServerConfig, history: History):
        self.config = config
        executor = ThreadPoolExecutor(config.threads, thread_name_prefix="django")
        self.process = LiveProcess(
            bridge=Bridge(wsgi_app), executor=executor, history=history, config=config
        )
        self.django = DjangoContainer(wsgi_app, process=self.process)
        super().__init__(
            [
                (WEBSOCKET_PATH, ApiSocketHandler),
                (EVENT_STREAM_PATH, EventStreamHandler),
            ],
            websocket_max_message_size=config.max_message_bytes,
            # No `websocket_ping_interval`: Tornado would keep a task per socket
            # for it. The process pings every socket from one timer (`keep_alive`).
            log_function=log_request,
        )


class OnePort(RuleRouter):
    """What the port serves: the socket and the event stream by Tornado's
    handlers, every other request by Django as it was sent; bodies past
    `REQUEST_MAX_BYTES` refused (413) before they are read."""

    def __init__(self, app: SocketApplication):
        self.app = app
        socket_paths = f"(?:{WEBSOCKET_PATH}|{EVENT_STREAM_PATH})$"
        super().__init__([(PathMatches(socket_paths), app), (AnyMatches(), app.django)])

    def start_request(self, server_conn, request_conn):
        return BodyLimit(
            super().start_request(server_conn, request_conn),
            request_conn,
            limit=self.app.config.request_max_bytes,
            config=self.app.config,
        )


def make_app(**config_overrides) -> SocketApplication:
    """The application on this project's Django settings (`DJANGO_SETTINGS_MODULE`)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.wsgi import get_wsgi_application

    wsgi_app = get_wsgi_application()
    config = ServerConfig.from_settings(**config_overrides)
    # Each connection is a file descriptor; many systems start at a soft 1024.
    raise_open_file_limit(config.max_connections + 256)
    history = History(
        redis_url=live_settings.REDIS_URL,
        stream=live_settings.EVENTS_STREAM,
        redis_options=live_settings.REDIS_OPTIONS,
    )
    return SocketApplication(wsgi_app=wsgi_app, config=config, history=history)


def raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit on open files toward `wanted`, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def start_serving(app: SocketApplication) -> None:
    """What a serving process runs beside its requests, started by `main()` and
    the gunicorn worker (never as a side effect of building anything): the sweep
    of idle sockets and the keep-alive pings; and the start-up heap frozen."""
    config = app.config
    # Sockets that neither send nor listen are closed; checked a few times a period.
    PeriodicCallback(
        partial(app.process.close_idle, idle_seconds=config.idle_timeout_seconds),
        config.idle_timeout_seconds * 1000 / 4,
    ).start()
    PeriodicCallback(
        app.process.keep_alive, config.ping_interval_seconds * 1000
    ).start()
    # What start-up made (Django, the apps, the URLconf) lives as long as the
    # process: freeze it, so the collector's full passes do not walk it again.
    gc.collect()
    gc.freeze()


def make_server(app: SocketApplication) -> HTTPServer:
    """An `HTTPServer` for `app`: slow clients time out. It starts nothing."""
    config = app.config
    return HTTPServer(
        OnePort(app),
        # Tornado's default is an hour; a trickled handshake must not hold a slot.
        idle_connection_timeout=config.handshake_timeout_seconds,
        # ...nor a trickled body, which Tornado would otherwise wait for forever.
        body_timeout=config.handshake_timeout_seconds,
        max_body_size=config.request_max_bytes,
        xheaders=False,  # Django reads proxy headers itself (NUM_PROXIES)
    )


async def shutdown(server: HTTPServer, app: SocketApplication) -> None:
    """Stop accepting, drain the sockets, then close what is left: an HTTP
    connection kept alive only between requests, never under one that reached
    Django (it replies first, with `Connection: close`)."""
    server.stop()
    await app.process.drain(timeout=app.config.drain_seconds)
    await app.process.until_idle(timeout=app.config.drain_seconds)
    # No await between the check above and these closes: no request can enter
    # Django in between (requests enter on this loop).
    for connection in list(server._connections):
        connection.stream.close()
    await server.close_all_connections()
