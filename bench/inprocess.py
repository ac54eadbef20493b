"""Django's own work, the floor: the same view called in this process, either
through Django's test Client or through the bridge (no sockets, no threads)."""

import gc
import json
import sys
import time

import django

from bench.servers import run_module


def test_client_call(kind):
    from django.test import Client

    client = Client()
    if kind == "retrieve":
        return lambda: client.get("/api/snippets/1/").status_code
    body = {"title": "bench", "code": "print(1)\n" * 5}
    return lambda: (
        client.post("/api/snippets/", body, content_type="application/json").status_code
    )


def bridge_call(kind):
    from django.core.wsgi import get_wsgi_application

    from wsserver.bridge import Bridge, Peer
    from wsserver.protocol import encode, parse_message

    bridge = Bridge(get_wsgi_application())
    peer = Peer(remote_addr="127.0.0.1", host="127.0.0.1")
    if kind == "retrieve":
        text = json.dumps({"id": 1, "url": "/api/snippets/1/"})
    else:
        data = {"title": "bench", "code": "print(1)\n" * 5}
        text = json.dumps(
            {"id": 1, "method": "POST", "url": "/api/snippets/", "data": data}
        )

    def call():
        reply = bridge.handle(parse_message(text), peer)
        encode(reply)  # the frame is serialized too
        return reply["status"]

    return call


def rate(kind, via, seconds, *, cpus=None):
    """Run this module in a process of its own (on `cpus`, if given: `taskset
    -c`) and return the calls a second it made."""
    return run_module("bench.inprocess", kind, via, seconds, cpus=cpus)["rate"]


def main(kind, via, seconds=None, calls=None):
    """Call for `seconds` and print the rate, or make exactly `calls` calls
    (for `bench.instructions`)."""
    django.setup()
    call = test_client_call(kind) if via == "client" else bridge_call(kind)
    for _ in range(20):
        assert call() < 400
    # As the web worker does once Django is loaded (wsserver/worker.py): what
    # start-up made is never collected, so no collection walks it again.
    gc.collect()
    gc.freeze()
    if calls is not None:
        for _ in range(calls):
            call()
        return
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    print(json.dumps({"rate": count / (time.perf_counter() - started)}))


if __name__ == "__main__":
    if sys.argv[3] == "--calls":
        main(sys.argv[1], sys.argv[2], calls=int(sys.argv[4]))
    else:
        main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
