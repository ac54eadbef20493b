"""Split mode: `python -m wsserver` serves the Tornado application standalone."""

import argparse
import asyncio
import logging
import os
import signal

log = logging.getLogger(__name__)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m wsserver",
        description="Serve /ws/api (and every other path) on one port.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument(
        "--address",
        default="",
        help="interface to listen on (default: every one, IPv4 and IPv6)",
    )
    parser.add_argument(
        "--threads", type=int, help="Django thread pool size (WS_THREADS)"
    )
    return parser.parse_args(argv)


async def main(argv=None):
    args = parse_args(argv)
    from wsserver.app import make_app, make_server, shutdown, start_serving

    app = make_app(**({"threads": args.threads} if args.threads else {}))
    server = make_server(app)
    start_serving(app)
    server.listen(args.port, args.address)
    where = args.address or "every interface"
    log.info("Serving on %s, port %d (WebSocket at /ws/api)", where, args.port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await shutdown(server, app)


if __name__ == "__main__":
    asyncio.run(main())
