"""
`python -m bench`: the transports side by side in one run, medians of several.

Per request, beside DCRF and Django's in-process floor, with the targets each
marked met or missed (`per_request_targets`), and the instructions of one
bridge retrieve (`bench.instructions`); then WebSocket against HTTP keep-alive
on the same process and HTTP against gunicorn's gthread workers; memory per
1,000 idle sockets; 1 -> 2 workers; the fan-out beside a bare Tornado
broadcast (`fanout_table`), resumes, the crowd of users and filtered lists.
"""

import argparse
import asyncio
import os
import resource
import signal
import statistics
import sys
import time
from functools import partial

from bench import accounts, fanout, filter_cost, inprocess, instructions, versus
from bench.clients import open_websocket, run_http, run_websocket
from bench.fanout import percentile
from bench.servers import (
    RESULTS_DIR,
    bench_env,
    prepare_database,
    resident_mib,
    running,
    stop_all,
)

OPERATIONS = {
    "retrieve": ("GET", "/api/snippets/1/", None),
    "create": ("POST", "/api/snippets/", {"title": "bench", "code": "print(1)\n" * 5}),
}


def measure(runner, port, connections, seconds, operation):
    method, path, body = OPERATIONS[operation]
    rate, latencies = asyncio.run(
        runner(
            port=port,
            connections=connections,
            seconds=seconds,
            method=method,
            path=path,
            body=body,
        )
    )
    return rate, percentile(latencies, 0.5), percentile(latencies, 0.99)


def median_cell(samples):
    """The run with the median rate: `(rate, p50 ms, p99 ms)`."""
    ordered = sorted(samples)
    return ordered[len(ordered) // 2]


async def idle_sockets(port, count, *, subscribed=False):
    sockets = []
    for _ in range(count):
        replies = []
        socket = await open_websocket(
            "127.0.0.1", port, lambda payload, _, replies=replies: replies.append(1)
        )
        if subscribed:
            socket.send({"method": "SUBSCRIBE", "url": "/api/snippets/"})
            while not replies:
                await asyncio.sleep(0.001)
        sockets.append(socket.transport)
    await asyncio.sleep(1)
    return sockets


async def idle_streams(port, count):
    """`count` open Server-Sent Events streams, each past its snapshot."""
    streams = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /ws/events?url=/api/snippets/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        await reader.readuntil(b"\n\n")  # headers end in CRLFs: this is the snapshot
        streams.append(writer)
    await asyncio.sleep(1)
    return streams


def idle_memory(kind, count, opener=idle_sockets):
    """Resident MiB per 1,000 idle connections (`opener`) on one worker of `kind`."""
    with running(kind) as (port, pids):
        before = resident_mib(pids[0])
        loop = asyncio.new_event_loop()
        connections = loop.run_until_complete(opener(port, count))
        after = resident_mib(pids[0])
        for connection in connections:
            connection.close()
        loop.run_until_complete(asyncio.sleep(0.5))
        loop.close()
    return (after - before) / count * 1000


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=float, default=3, help="per measurement")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per cell")
    parser.add_argument("--idle", type=int, default=10_000, help="idle sockets")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--only",
        choices=["fanout", "crowd", "filtered"],
        help="run one section (the fan-out, the crowd of users, or filtered lists)",
    )
    args = parser.parse_args(argv)
    # Ctrl-C (or a TERM) stops the bench at once, whatever it is waiting on, and
    # the servers it started with it: its load clients wait on sockets without
    # timeouts, and asyncio would only cancel the task at hand.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    prepare_database()
    if args.only == "fanout":
        return report(fanout_table(args.subscribers, args.reps))
    if args.only == "crowd":
        return report(crowd(args.subscribers, args.reps))
    if args.only == "filtered":
        return report(filtered_crowd(args.subscribers, args.reps))
    started = time.monotonic()
    progress("per request: the bridge against its peer, side by side")
    versus_lines, ratios = versus.compare(seconds=2, rounds=max(args.reps, 5))
    lines = [
        "# Benchmark results",
        "",
        f"{os.cpu_count()} cores; each cell is the median of {args.reps} runs of "
        f"{args.seconds:g} s; p50/p99 latency in ms from the median run. Throttles "
        "on (Redis), rates set high enough never to trip; per-request INFO logs off. "
        "In-process: Django's test Client; bridge in-process: `Bridge.handle()` "
        "called directly in one thread (message in, frame out, no sockets).",
        "",
        *versus_lines,
    ]

    # The load clients' own ceiling, against a bare Tornado server.
    progress("the load clients' own ceiling")
    with running("echo") as (port, _):
        ceiling_ws = median_cell(
            [
                measure(run_websocket, port, 50, args.seconds, "retrieve")
                for _ in range(args.reps)
            ]
        )
        ceiling_http = median_cell(
            [
                measure(run_http, port, 50, args.seconds, "retrieve")
                for _ in range(args.reps)
            ]
        )
    lines += [
        f"Load client ceiling (bare Tornado, 50 connections): WebSocket "
        f"{ceiling_ws[0]:.0f}/s, HTTP {ceiling_http[0]:.0f}/s.",
        "",
    ]

    progress("rates in-process, then over the web and gthread servers")
    table = {}
    for operation in OPERATIONS:
        for via in ("client", "bridge"):
            table[(operation, via)] = statistics.median(
                inprocess.rate(operation, via, args.seconds) for _ in range(args.reps)
            )
    for kind in ("web", "gthread"):
        with running(kind) as (port, _):
            for operation in OPERATIONS:
                for connections in (1, 50, 500):
                    transports = (
                        [("websocket", run_websocket), ("http", run_http)]
                        if kind == "web"
                        else [("http", run_http)]
                    )
                    samples = {name: [] for name, _ in transports}
                    for _ in range(args.reps):
                        # Interleaved, so drift on a shared machine hits both alike.
                        for name, runner in transports:
                            samples[name].append(
                                measure(
                                    runner, port, connections, args.seconds, operation
                                )
                            )
                    for name, cell in samples.items():
                        table[(operation, kind, name, connections)] = median_cell(cell)

    lines += [
        "| operation | conns | WebSocket /s (p50/p99) | HTTP same process /s (p50/p99) "
        "| gthread HTTP /s (p50/p99) | in-process /s | bridge in-process /s "
        "| WS / in-process | WS / HTTP | HTTP / gthread |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for operation in OPERATIONS:
        floor = table[(operation, "client")]
        bridged = table[(operation, "bridge")]
        for connections in (1, 50, 500):
            ws = table[(operation, "web", "websocket", connections)]
            http = table[(operation, "web", "http", connections)]
            gthread = table[(operation, "gthread", "http", connections)]
            lines.append(
                f"| {operation} | {connections} "
                f"| {ws[0]:.0f} ({ws[1]:.1f}/{ws[2]:.1f}) "
                f"| {http[0]:.0f} ({http[1]:.1f}/{http[2]:.1f}) "
                f"| {gthread[0]:.0f} ({gthread[1]:.1f}/{gthread[2]:.1f}) "
                f"| {floor:.0f} | {bridged:.0f} | {ws[0] / floor:.2f} "
                f"| {ws[0] / http[0]:.2f} "
                f"| {http[0] / gthread[0]:.2f} |"
            )
    lines.append("")
    gthread_ratio = (
        table[("retrieve", "web", "http", 50)][0]
        / table[("retrieve", "gthread", "http", 50)][0]
    )
    lines += per_request_targets(ratios, gthread_ratio)

    with running("web", workers=2) as (port, _):
        two = median_cell(
            [
                measure(run_websocket, port, 50, args.seconds, "retrieve")
                for _ in range(args.reps)
            ]
        )
    one = table[("retrieve", "web", "websocket", 50)]
    lines += [
        f"Workers: WebSocket retrieve at 50 connections, 1 worker {one[0]:.0f}/s, "
        f"2 workers {two[0]:.0f}/s ({two[0] / one[0]:.2f}x) on {os.cpu_count()} cores.",
        "",
    ]

    progress(f"memory of {args.idle} idle sockets")
    web_idle = idle_memory("web", args.idle)
    echo_idle = idle_memory("echo", args.idle)
    listening = args.subscribers
    subscribed = idle_memory("web", listening, partial(idle_sockets, subscribed=True))
    streams = idle_memory("web", listening, idle_streams)
    lines += [
        f"Idle WebSockets: {args.idle} on one worker cost {web_idle:.1f} MiB per 1,000 "
        f"(bare Tornado echo server: {echo_idle:.1f} MiB per 1,000). Listening, "
        f"{listening} each: subscribed sockets {subscribed:.1f} MiB per 1,000, "
        f"Server-Sent Events streams {streams:.1f} MiB per 1,000.",
        "",
    ]

    lines += fanout_table(args.subscribers, args.reps)
    progress("resumes over two workers")
    with running("web", workers=2) as (port, _):
        resumes = [
            asyncio.run(
                fanout.measure_resume(
                    port=port, subscribers=args.subscribers, env=bench_env()
                )
            )
            for _ in range(args.reps)
        ]
    resume = sorted(resumes, key=lambda run: run["p99_ms"])[len(resumes) // 2]
    lines += [
        f"Resume: {args.subscribers} subscribers away while {resume['changes']} "
        "changes were made, back with `since` (the run with the median p99 of "
        f"{args.reps}): caught up in p50 {resume['p50_ms']:.1f} ms, p99 "
        f"{resume['p99_ms']:.1f} ms; {resume['missed']} missed, "
        f"{resume['repeated']} repeated, {resume['snapshots']} snapshots re-read.",
        "",
        *crowd(args.subscribers, args.reps),
        *filtered_crowd(args.subscribers, args.reps),
        f"Total bench time: {time.monotonic() - started:.0f} s.",
    ]
    report(lines)


INSTRUCTIONS_TARGET = 4.4e6


def per_request_targets(ratios, gthread_ratio):
    """Each per-request target, met or missed, from this run's figures."""
    count = (
        instructions.per_call("retrieve", "bridge") if instructions.usable() else None
    )
    ws50, ws1, create = (
        ratios["WS retrieve", 50],
        ratios["WS retrieve", 1],
        ratios["WS create", 50],
    )
    rows = [  # (target, rate ratio, ratio by CPU time or None, wanted)
        ("WS retrieve, 50 conns, / DCRF", ws50[0], ws50[1], 1.0),
        ("WS retrieve, 1 conn, / DCRF", ws1[0], ws1[1], 0.85),
        ("WS retrieve, 50 conns, / in-process floor", ws50[2], None, 0.85),
        ("WS create, 50 conns, / DCRF", create[0], create[1], 1.0),
        ("HTTP retrieve, 50 conns, / gthread", gthread_ratio, None, 1.0),
    ]
    lines = [
        "Per-request targets (rate ratios; by CPU time per request in brackets "
        "where the peer is DCRF):",
        "",
        "| target | measured | wanted | |",
        "|---|---|---|---|",
    ]
    for name, measured, by_cpu, wanted in rows:
        cpu = "" if by_cpu is None else f" ({by_cpu:.2f})"
        verdict = "met" if measured >= wanted else "missed"
        lines.append(f"| {name} | {measured:.2f}{cpu} | >= {wanted:g} | {verdict} |")
    if count is None:
        lines.append("| instructions per bridge retrieve | (no valgrind) | | |")
    else:
        verdict = "met" if count <= INSTRUCTIONS_TARGET else "missed"
        lines.append(
            f"| instructions per bridge retrieve | {count / 1e6:.2f}M "
            f"| <= {INSTRUCTIONS_TARGET / 1e6:g}M | {verdict} |"
        )
    return [*lines, ""]


STARTED = time.monotonic()


def interrupted(signum, frame):
    print("Interrupted: stopping the servers.", file=sys.stderr, flush=True)
    stop_all()
    os._exit(128 + signum)


def progress(what):
    """One line on stderr as each part begins: the full run takes minutes."""
    print(f"[{time.monotonic() - STARTED:6.0f} s] {what}", file=sys.stderr, flush=True)


def report(lines):
    text = "\n".join(lines) + "\n"
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text)
    print(text)


BIG_CROWD = 10_000
# Ten thousand subscribers hear a change every half second (20,000 events/s,
# within what one worker sends): changes 50 ms apart would be 200,000 a second.
BIG_CROWD_PAUSE_SECONDS = 0.5


def median_runs(runs):
    """For each kind of run, the run with the median p99."""
    return {
        kind: sorted(results, key=lambda run: run["p99_ms"])[len(results) // 2]
        for kind, results in runs.items()
    }


def fanout_table(subscribers, reps):
    """Fan-out to `subscribers` on one worker beside the bare Tornado broadcast
    (bench/broadcast.py: one `write_message` per socket of a message
    serialised once), interleaved in one run: anonymous sockets, sockets signed
    in as as many users, event streams; then 10,000 sockets on one worker, and
    the same crowd over two workers. Targets: delivered/s at least 1.5x and p99
    at most 0.7x the baseline's; 10,000 receive every change in at most
    15 MiB per 1,000 idle subscribed sockets."""
    progress(f"the fan-out: {subscribers} subscribers beside a bare broadcast")
    kinds = ["baseline", "anonymous", "signed in", "event streams"]
    runs = {kind: [] for kind in kinds}
    with running("broadcast") as (bare, _), running("web") as (port, _):
        baseline = f"http://127.0.0.1:{bare}"
        for _ in range(reps):
            tokens = tuple(accounts.tokens(subscribers))
            options = {
                "baseline": {"port": bare, "baseline": baseline},
                "anonymous": {"port": port},
                "signed in": {"port": port, "tokens": tokens},
                "event streams": {"port": port, "streams": True},
            }
            for kind in kinds:
                measured = fanout.measure(
                    subscribers=subscribers, env=bench_env(), **options[kind]
                )
                runs[kind].append(asyncio.run(measured))
    progress(f"the fan-out: {BIG_CROWD} subscribers on one worker, then two workers")
    with running("web") as (port, pids):
        idle = resident_mib(pids[0])
        big = fanout.measure(
            port=port,
            subscribers=BIG_CROWD,
            env=bench_env(),
            resident=lambda: resident_mib(pids[0]),
            pause=BIG_CROWD_PAUSE_SECONDS,
        )
        runs[f"{BIG_CROWD:,} anonymous"] = [asyncio.run(big)]
    per_thousand = (runs[f"{BIG_CROWD:,} anonymous"][0]["resident_mib"] - idle) / (
        BIG_CROWD / 1000
    )
    with running("web", workers=2) as (port, _):
        for crowd_size in (subscribers, 2 * subscribers):
            kind = f"{crowd_size:,} anonymous, 2 workers"
            runs[kind] = [
                asyncio.run(
                    fanout.measure(port=port, subscribers=crowd_size, env=bench_env())
                )
                for _ in range(reps)
            ]
    median = median_runs(runs)
    bare = median["baseline"]
    lines = [
        f"Fan-out: {subscribers} subscribers of /api/snippets/ on one worker, beside "
        "a bare Tornado server sending each change serialised once with one "
        f"`write_message` per socket (the run with the median p99 of {reps}, "
        "interleaved in one run). p50/p99: commit to delivery, 20 changes 50 ms "
        "apart; delivered/s: changes back to back for 3 s. Client busy: the load "
        "client's share of one core while events came (under 100%: it kept up).",
        "",
        "| subscribers | p50 ms | p99 ms | missing | events delivered/s "
        "| p99 / baseline (target <= 0.7) | delivered / baseline (target >= 1.5) "
        "| client busy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, run in median.items():
        p99 = run["p99_ms"] / bare["p99_ms"]
        delivered = run["deliveries_per_s"] / bare["deliveries_per_s"]
        targeted = kind in kinds[1:]
        p99_cell = f"{p99:.2f}{' ' + mark(p99 <= 0.7) if targeted else ''}"
        if kind == f"{BIG_CROWD:,} anonymous":  # timed at another pace
            p99_cell = f"(changes {BIG_CROWD_PAUSE_SECONDS * 1000:.0f} ms apart)"
        lines.append(
            f"| {f'{subscribers} ' if kind in kinds else ''}{kind} "
            f"| {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['missing']} | {run['deliveries_per_s']:.0f} "
            f"| {p99_cell} "
            f"| {delivered:.2f}{' ' + mark(delivered >= 1.5) if targeted else ''} "
            f"| {run['client_busy']:.0%} |"
        )
    big = median[f"{BIG_CROWD:,} anonymous"]
    lines += [
        "",
        f"{BIG_CROWD:,} subscribers on one worker: {big['missing']} of "
        f"{big['changes'] * BIG_CROWD:,} deliveries missing "
        f"({mark(big['missing'] == 0)}); with changes "
        f"{BIG_CROWD_PAUSE_SECONDS * 1000:.0f} ms apart, p50 {big['p50_ms']:.0f} ms "
        f"and p99 {big['p99_ms']:.0f} ms; "
        f"{per_thousand:.1f} MiB per 1,000 idle subscribed sockets "
        f"(target <= 15: {mark(per_thousand <= 15)}). Events are "
        f"{bare['event_bytes']} bytes (baseline) and "
        f"{median['anonymous']['event_bytes']} (the project).",
        "",
    ]
    return lines


CROWD_SIZES = (10, 100, 1000)


def crowd(subscribers, reps):
    """Fan-out on one worker to `subscribers` sockets signed in as 10, 100 or
    `subscribers` distinct users, beside the same sockets anonymous, interleaved
    in one run. Targets: at 1,000 users, p99 at most 2x and events delivered/s
    at least 0.5x the anonymous figures, none missing."""
    progress(f"the crowd: {subscribers} subscribers signed in as N users")
    sizes = [size for size in CROWD_SIZES if size < subscribers] + [subscribers]
    runs = {size: [] for size in [0, *sizes]}
    with running("web") as (port, _):
        for _ in range(reps):
            tokens = accounts.tokens(subscribers)
            for size in runs:
                measured = fanout.measure(
                    port=port,
                    subscribers=subscribers,
                    env=bench_env(),
                    tokens=tuple(tokens[:size]) or (None,),
                )
                runs[size].append(asyncio.run(measured))
    median = median_runs(runs)
    anonymous = median[0]
    lines = [
        f"Crowd: {subscribers} subscribers on one worker, signed in as N distinct "
        f"users (the run with the median p99 of {reps}, interleaved with the "
        "anonymous in one run); each change is a public snippet, rendered once per "
        "cohort (everyone but its owner and staff), not once per user.",
        "",
        "| signed-in users | p50 ms | p99 ms | missing | events delivered/s "
        "| p99 / anonymous (target <= 2) | delivered / anonymous (target >= 0.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, run in median.items():
        lines.append(
            f"| {size or 'anonymous'} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['missing']} | {run['deliveries_per_s']:.0f} "
            f"| {run['p99_ms'] / anonymous['p99_ms']:.2f} "
            f"| {run['deliveries_per_s'] / anonymous['deliveries_per_s']:.2f} |"
        )
    return [*lines, ""]


FILTERS = 50


def filtered_crowd(subscribers, reps):
    """Fan-out on one worker to `subscribers` anonymous sockets spread over 50
    distinct filtered lists, each holding every change, beside the same sockets
    on the whole list, interleaved in one run. Targets: p99 at most 2x and
    events delivered/s at least 0.5x the whole list's, none missing."""
    progress(f"filtered lists: {subscribers} subscribers over {FILTERS} filters")
    kinds = {
        "whole list": (fanout.LIST,),
        f"{FILTERS} filters": tuple(fanout.filters_matching_every_change(FILTERS)),
    }
    runs = {kind: [] for kind in kinds}
    with running("web") as (port, _):
        for _ in range(reps):
            for kind, urls in kinds.items():
                measured = fanout.measure(
                    port=port, subscribers=subscribers, env=bench_env(), urls=urls
                )
                runs[kind].append(asyncio.run(measured))
    median = median_runs(runs)
    whole = median["whole list"]
    lines = [
        f"Filtered lists: {subscribers} anonymous subscribers on one worker, on the "
        f"whole list or spread over {FILTERS} distinct filtered lists that each hold "
        f"every change (searches for parts of its title, with and without its "
        f"language), the run with the median p99 of {reps}, interleaved in one run. "
        "A change is one GET per cohort, which asks about every filter at once.",
        "",
        "| subscribed to | p50 ms | p99 ms | missing | events delivered/s "
        "| p99 / whole (target <= 2) | delivered / whole (target >= 0.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, run in median.items():
        p99 = run["p99_ms"] / whole["p99_ms"]
        delivered = run["deliveries_per_s"] / whole["deliveries_per_s"]
        lines.append(
            f"| {kind} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['missing']} | {run['deliveries_per_s']:.0f} "
            f"| {p99:.2f} {mark(p99 <= 2)} | {delivered:.2f} {mark(delivered >= 0.5)} |"
        )
    cost = filter_cost.measure()
    lines += [
        "",
        "What one change's GET costs (in one process, through the bridge, median of "
        f"{filter_cost.CALLS}) by the distinct filtered lists it is asked about: "
        + ", ".join(f"{count}: {ms:.2f} ms" for count, ms in cost.items())
        + ".",
    ]
    return [*lines, ""]


def mark(met):
    return "met" if met else "MISSED"


if __name__ == "__main__":
    main()
