"""Commit-to-delivery latency of change events fanned out to many subscribers."""

import asyncio
import json
import resource
import sys
import time

from bench.clients import open_event_stream, open_websocket
from bench.servers import PROJECT_DIR

LATENCY_CHANGES = 20
LATENCY_PAUSE_SECONDS = 0.05
SUSTAINED_SECONDS = 3
DRAIN_SECONDS = 5
SETTLE_SECONDS = 120
LIST = "/api/snippets/"


def filters_matching_every_change(count):
    """`count` distinct filtered lists that each hold every snippet the writer
    makes (titled "fan-out", in Python): searches for each part of the title,
    alone and with the language."""
    title = "fan-out"
    parts = sorted(
        {title[i:j] for i in range(len(title)) for j in range(i + 1, len(title) + 1)}
    )
    queries = [f"search={part}" for part in parts]
    queries += [f"search={part}&language=python" for part in parts]
    assert len(queries) >= count, count
    return [f"{LIST}?{query}" for query in queries[:count]]


def percentile(values, fraction):
    """The `fraction` quantile of `values` (seconds), in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def write(env, changes, pause, seconds, baseline=None):
    """Run `bench.writer` (posting to the broadcast server at `baseline`, if
    given); return its lines (one per change, then a summary)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.writer",
        str(changes),
        str(pause),
        str(seconds),
        *([baseline] if baseline else []),
        cwd=PROJECT_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    return [json.loads(line) for line in output.decode().splitlines()]


async def settle(port, env, baseline=None):
    """Wait until the server has fanned out every change made so far (a probe
    subscribes and hears a change of its own), so that no backlog of an earlier
    measurement delays this one; return that change's position."""
    heard = []
    probe = await open_websocket(
        "127.0.0.1", port, lambda payload, _: heard.append(json.loads(payload))
    )
    probe.send({"method": "SUBSCRIBE", "url": "/api/snippets/"})
    await wait_for(lambda: heard, SETTLE_SECONDS)
    lines = await write(env, 1, 0, 0, baseline)
    url = next(line["url"] for line in lines if "url" in line)
    await wait_for(lambda: any(e.get("url") == url for e in heard), SETTLE_SECONDS)
    probe.transport.close()
    return next(e for e in heard if e.get("url") == url).get("position")


# SUBSCRIBEs sent at once: a crowd subscribes in steps, as clients come in
# after a deploy do, not all in one burst.
SUBSCRIBE_STEP = 250


async def measure(
    *,
    port,
    subscribers,
    env,
    tokens=(None,),
    urls=(LIST,),
    streams=False,
    baseline=None,
    resident=None,
    pause=LATENCY_PAUSE_SECONDS,
):
    """Subscribe `subscribers` sockets, change snippets elsewhere, time arrivals.

    Socket `n` subscribes to `urls[n % len(urls)]` with `tokens[n % len(tokens)]`
    (`None`: anonymous), so each change is read once per distinct identity and
    URL (a filtered list's query); with `streams`, each is an event stream
    instead. With `baseline` (the broadcast server's address), the changes are
    posted to it. The clock starts just before `Snippet.objects.create()` in
    the writer (so it includes the insert and the commit) and stops when a
    subscriber's socket has the event; the timed changes are `pause` seconds
    apart. `resident()`, if given, is the server's memory, read once the crowd
    is subscribed and idle.
    """
    position = await settle(port, env, baseline)
    arrivals = []  # (payload, arrived): parsed later, to keep receiving cheap
    on_message = lambda payload, arrived: arrivals.append((payload, arrived))  # noqa: E731
    sockets = []
    for number in range(subscribers):
        token = tokens[number % len(tokens)]
        url = urls[number % len(urls)]
        if streams:
            socket = await open_event_stream("127.0.0.1", port, url, on_message, token)
        else:
            socket = await open_websocket("127.0.0.1", port, on_message)
            # Past the first step, from the probe's position: no snapshot to read.
            since = {"since": position} if number >= SUBSCRIBE_STEP > 0 else {}
            if position is None:  # (the broadcast server has no positions)
                since = {}
            socket.send({"method": "SUBSCRIBE", "url": url, "token": token, **since})
        sockets.append(socket)
        if (number + 1) % SUBSCRIBE_STEP == 0:
            await wait_for(lambda n=number: len(arrivals) > n, SETTLE_SECONDS)
    # Every subscription confirmed first, however long the list GETs take (the
    # bench's earlier creates leave tens of thousands of rows to count).
    await wait_for(lambda: len(arrivals) >= subscribers, SETTLE_SECONDS)
    arrivals.clear()
    memory = resident() if resident else None

    lines = await write(env, LATENCY_CHANGES, pause, 0, baseline)
    began = {line["url"]: line["began"] for line in lines if "url" in line}
    await wait_for(lambda: len(arrivals) >= (LATENCY_CHANGES + 1) * subscribers)
    latencies = []
    for payload, arrived in arrivals:
        event = json.loads(payload)
        if event.get("event") == "created" and event["url"] in began:
            latencies.append(arrived - began[event["url"]])
    expected = LATENCY_CHANGES * subscribers

    arrivals.clear()
    writing = asyncio.ensure_future(write(env, 0, 0, SUSTAINED_SECONDS, baseline))
    await wait_for(lambda: arrivals, SETTLE_SECONDS)
    cpu_before, wall_before = client_cpu_seconds(), time.perf_counter()
    summary = (await writing)[-1]
    await wait_for(lambda: len(arrivals) >= (summary["changes"] + 1) * subscribers)
    first = min(arrived for _, arrived in arrivals)
    last = max(arrived for _, arrived in arrivals)
    # The client's share of one core while events came: under 1, it kept up.
    client_busy = (client_cpu_seconds() - cpu_before) / (last - wall_before)
    for socket in sockets:
        socket.transport.close()
    return {
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "changes": LATENCY_CHANGES,
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "changes_per_s": summary["changes"] / summary["elapsed"],
        "deliveries_per_s": len(arrivals) / (last - first),
        "client_busy": client_busy,
        "resident_mib": memory,
        "event_bytes": len(arrivals[-1][0]),
    }


def client_cpu_seconds():
    """CPU time this process (the load client) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure_resume(*, port, subscribers, env, changes=5):
    """Subscribers go away (as a deploy's drain makes them), `changes` happen, and
    they come back with `since`: time from each one's SUBSCRIBE to having every
    change it missed, and what was missed, repeated or re-read as a snapshot."""
    await settle(port, env)
    replies = []
    sockets = [
        await open_websocket(
            "127.0.0.1", port, lambda payload, _: replies.append(json.loads(payload))
        )
        for _ in range(subscribers)
    ]
    for socket in sockets:
        socket.send({"method": "SUBSCRIBE", "url": "/api/snippets/"})
    await wait_for(lambda: len(replies) >= subscribers, SETTLE_SECONDS)
    positions = [reply["position"] for reply in replies]
    for socket in sockets:
        socket.transport.close()
    missed = [line["url"] for line in await write(env, changes, 0, 0) if "url" in line]
    missed = len(missed) + 1  # and the writer's warm-up change

    frames = [[] for _ in positions]
    sent_at = []
    for index, position in enumerate(positions):
        socket = await open_websocket(
            "127.0.0.1",
            port,
            lambda payload, arrived, index=index: frames[index].append(
                (json.loads(payload), arrived)
            ),
        )
        sent_at.append(time.perf_counter())
        socket.send({"method": "SUBSCRIBE", "url": "/api/snippets/", "since": position})
        sockets.append(socket)
    await wait_for(
        lambda: sum(map(len, frames)) >= subscribers * (1 + missed), SETTLE_SECONDS
    )
    caught_up, lost, repeated, snapshots = [], 0, 0, 0
    for started, received in zip(sent_at, frames, strict=True):
        events = [frame for frame, _ in received if "event" in frame]
        urls = [event["url"] for event in events]
        snapshots += sum("data" in frame for frame, _ in received if "status" in frame)
        lost += max(missed - len(set(urls)), 0)
        repeated += len(urls) - len(set(urls))
        if events:
            caught_up.append(received[-1][1] - started)
    for socket in sockets[subscribers:]:
        socket.transport.close()
    return {
        "p50_ms": percentile(caught_up, 0.5),
        "p99_ms": percentile(caught_up, 0.99),
        "missed": lost,
        "repeated": repeated,
        "snapshots": snapshots,
        "changes": missed,
    }


async def wait_for(condition, seconds=DRAIN_SECONDS):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
