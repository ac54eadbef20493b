"""What one change's GET costs as the filtered lists asked about grow: the GET
that shows a snippet's change to a cohort (as the fan-out makes it, through
the bridge, no sockets), asked about 0 to 50 distinct filters, in this
process. Prints `{filters: ms}`, the median of many calls."""

import json
import statistics
import time

import django

from bench.fanout import filters_matching_every_change
from bench.servers import run_module

COUNTS = (0, 1, 10, 25, 50)
CALLS = 200


def main():
    django.setup()
    from django.core.wsgi import get_wsgi_application

    from live.contract import CHANGE_MARK, FILTERS_MARK
    from snippets.models import Snippet
    from wsserver.bridge import Bridge, Peer
    from wsserver.protocol import Message

    bridge = Bridge(get_wsgi_application())
    peer = Peer(remote_addr="127.0.0.1", host="127.0.0.1")
    snippet = Snippet.objects.create(title="fan-out", code="x = 1")
    url = f"/api/snippets/{snippet.pk}/"
    record = {"event": "updated", "url": url, "id": snippet.pk}
    record["model"] = "snippets.snippet"
    record["before"] = {"id": snippet.pk, "title": "fan-out", "language": "python"}
    record["before"] |= {"private": False, "owner_id": None, "linenos": False}
    record["before"] |= {"style": "friendly", "created": snippet.created.isoformat()}
    queries = [u.split("?", 1)[1] for u in filters_matching_every_change(max(COUNTS))]
    cost = {}
    for count in COUNTS:
        marks = {CHANGE_MARK: record, FILTERS_MARK: queries[:count]}
        for _ in range(20):  # warm: each filter's test is compiled once
            assert bridge.handle(Message(url, "GET"), peer, marks)["status"] == 200
        times = []
        for _ in range(CALLS):
            started = time.perf_counter()
            bridge.handle(Message(url, "GET"), peer, marks)
            times.append(time.perf_counter() - started)
        cost[count] = statistics.median(times) * 1000
    snippet.delete()
    print(json.dumps(cost))


def measure():
    """Run `main` in a process of its own (the bench's settings and database)."""
    return {int(count): ms for count, ms in run_module("bench.filter_cost").items()}


if __name__ == "__main__":
    main()
