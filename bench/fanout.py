"""Commit-to-delivery latency of change events fanned out to many subscribers."""

import asyncio
import json
import os
import time

from bench.clients import open_websocket

LATENCY_CHANGES = 20
SUSTAINED_SECONDS = 3
DRAIN_SECONDS = 5


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def measure(*, port, subscribers, env):
    """Subscribe `subscribers` sockets, change snippets through the ORM, time arrivals.

    The clock starts just before `Snippet.objects.create()` (so it includes the
    insert and the commit) and stops when a subscriber's socket has the event.
    """
    os.environ.update(env)
    import django

    django.setup()
    from snippets.models import Snippet

    arrivals = []  # (payload, arrived): parsed later, to keep receiving cheap
    sockets = [
        await open_websocket(
            "127.0.0.1",
            port,
            lambda payload, arrived: arrivals.append((payload, arrived)),
        )
        for _ in range(subscribers)
    ]
    for socket in sockets:
        socket.send({"method": "SUBSCRIBE", "url": "/api/snippets/"})
    await wait_for(lambda: len(arrivals) >= subscribers)
    arrivals.clear()
    loop = asyncio.get_running_loop()

    def create():
        started = time.perf_counter()
        snippet = Snippet.objects.create(title="fan-out", code="x = 1")
        return snippet.pk, started

    started_at = {}
    for _ in range(LATENCY_CHANGES):
        pk, started = await loop.run_in_executor(None, create)
        started_at[f"/api/snippets/{pk}/"] = started
        await asyncio.sleep(0.05)
    await wait_for(lambda: len(arrivals) >= LATENCY_CHANGES * subscribers)
    latencies = []
    for payload, arrived in arrivals:
        event = json.loads(payload)
        if event.get("event") == "created" and event["url"] in started_at:
            latencies.append(arrived - started_at[event["url"]])
    expected = LATENCY_CHANGES * subscribers

    arrivals.clear()
    window_started = time.perf_counter()
    changes = 0
    while time.perf_counter() - window_started < SUSTAINED_SECONDS:
        await loop.run_in_executor(None, create)
        changes += 1
    await wait_for(lambda: len(arrivals) >= changes * subscribers)
    last = max(arrived for _, arrived in arrivals)
    for socket in sockets:
        socket.transport.close()
    return {
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "changes": LATENCY_CHANGES,
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "changes_per_s": changes / (time.perf_counter() - window_started),
        "deliveries_per_s": len(arrivals) / (last - window_started),
    }


async def wait_for(condition):
    deadline = time.monotonic() + DRAIN_SECONDS
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
