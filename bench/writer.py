"""Make snippet changes through the ORM in a process of their own, printing when
each began (`time.perf_counter()` is the system's monotonic clock, so the
subscribers' process can compare).

`python -m bench.writer CHANGES PAUSE SECONDS [BASELINE]`: with the address of
the bare broadcast server (bench/broadcast.py), post it events of the size the
project sends instead."""

import itertools
import json
import sys
import time

import django
import requests

# A created snippet's event as the project sends it (the same size, to the byte).
EVENT_SIZE = 375


def made_in_django():
    """Create snippets through the ORM: a function making one, returning its URL."""
    django.setup()
    from snippets.models import Snippet

    def make():
        snippet = Snippet.objects.create(title="fan-out", code="x = 1")
        return f"/api/snippets/{snippet.pk}/"

    return make


def posted_to(baseline):
    """Post changes' events to the broadcast server at `baseline`."""
    session = requests.Session()
    numbers = itertools.count(1)

    def make():
        url = f"/api/snippets/{next(numbers)}/"
        event = {"event": "created", "url": url, "data": {"url": url, "filler": ""}}
        event["data"]["filler"] = "x" * (EVENT_SIZE - len(json.dumps(event)))
        session.post(f"{baseline}/changes", json=event, timeout=60).raise_for_status()
        return url

    return make


def main(changes, pause, seconds, baseline=None):
    make = posted_to(baseline) if baseline else made_in_django()
    # Warm up (imports, lexers, the connection): this change is not timed.
    make()
    started = time.perf_counter()
    count = 0
    while count < changes or time.perf_counter() - started < seconds:
        began = time.perf_counter()
        url = make()
        print(json.dumps({"url": url, "began": began}))
        count += 1
        time.sleep(pause)
    print(json.dumps({"changes": count, "elapsed": time.perf_counter() - started}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:])
