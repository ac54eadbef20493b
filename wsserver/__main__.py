"""Split mode: `python -m wsserver` serves the Tornado application standalone."""

import argparse
import asyncio
import dataclasses
import logging
import os
import signal

from tornado.httpserver import HTTPServer

log = logging.getLogger("wsserver")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m wsserver",
        description="Serve /ws/api (and every other path) on one port.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument(
        "--threads", type=int, help="Django thread pool size (WS_THREADS)"
    )
    return parser.parse_args(argv)


async def main(argv=None):
    args = parse_args(argv)
    from wsserver.app import make_app, server_options
    from wsserver.config import ServerConfig

    config = ServerConfig.from_settings()
    if args.threads:
        config = dataclasses.replace(config, threads=args.threads)
    app = make_app(config)
    server = HTTPServer(app, **server_options(config))
    server.listen(args.port, args.address)
    log.info("Serving on http://%s:%d (WebSocket at /ws/api)", args.address, args.port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()
    await app.settings["hub"].drain(timeout=config.drain_seconds)
    await server.close_all_connections()


if __name__ == "__main__":
    asyncio.run(main())
