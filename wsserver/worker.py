"""The gunicorn worker: a Tornado process serving `make_app()` on gunicorn's socket.

gunicorn's stock Tornado worker stops its loop about a second after SIGTERM and
drops WebSockets without a close frame. This one drains: it stops accepting,
lets requests in flight reply, then closes each socket with 1001.
"""

import asyncio

from gunicorn.workers.gtornado import TornadoWorker
from tornado.ioloop import IOLoop, PeriodicCallback

from wsserver.app import make_server, shutdown, start_serving


class WebWorker(TornadoWorker):
    """gunicorn's Tornado worker, with our server options and a graceful drain."""

    def run(self):
        self.ioloop = IOLoop.current()
        # `alive` is left as it is (the stock worker sets it again): a SIGTERM
        # that came while the app loaded has cleared it, and the worker stops at
        # once rather than serve until the master kills it (graceful_timeout).
        self.stopping = False
        self.server = make_server(self.wsgi)
        start_serving(self.wsgi)
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
            self.shutdown_task = asyncio.ensure_future(self.stop_after_shutdown())

    async def stop_after_shutdown(self):
        await shutdown(self.server, self.wsgi)
        self.ioloop.stop()
