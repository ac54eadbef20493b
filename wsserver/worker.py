"""The gunicorn worker: a Tornado process serving `make_app()` on gunicorn's socket.

gunicorn's stock Tornado worker stops its loop about a second after SIGTERM and
drops WebSockets without a close frame. This one drains: it stops accepting,
lets requests in flight reply, then closes each socket with 1001.
"""

import asyncio

from gunicorn.workers.gtornado import TornadoWorker
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback

from wsserver.app import server_options


class WebWorker(TornadoWorker):
    """gunicorn's Tornado worker, with our server options and a graceful drain."""

    def run(self):
        self.ioloop = IOLoop.current()
        self.alive = True
        self.stopping = False
        app = self.wsgi
        self.server = HTTPServer(app, **server_options(app.settings["server_config"]))
        for sock in self.sockets:
            sock.setblocking(False)
            self.server.add_socket(sock)
        self.callbacks = [
            PeriodicCallback(self.watchdog, 1000),
            PeriodicCallback(self.check_stop, 100),
        ]
        for callback in self.callbacks:
            callback.start()
        self.ioloop.start()

    def check_stop(self):
        if not self.alive and not self.stopping:
            self.stopping = True
            self.shutdown_task = asyncio.ensure_future(self.shutdown())

    async def shutdown(self):
        app = self.wsgi
        self.server.stop()
        await app.settings["hub"].drain(
            timeout=app.settings["server_config"].drain_seconds
        )
        await self.server.close_all_connections()
        self.ioloop.stop()
