"""
This project beside its closest peer, DCRF 1.3 on Channels under uvicorn
(bench/peer/), and beside its own floor (Django's test Client calling the same
view in one process), from one run: every scenario is measured in short slices,
the two servers interleaved round by round so that a ratio comes from the same
seconds of a shared machine. Where there are two cores, both servers are pinned
to the first and the load to the second.

Beside each rate, the CPU time the server process spent per request in the
same slice (user + system, all its threads, from /proc): what the server does
per request, whatever the load client or the machine's other work do to the
rate. The ratios by CPU time are the ones to judge a change by.
"""

import asyncio
import os
import statistics
from contextlib import ExitStack, contextmanager

from bench import inprocess
from bench.clients import dcrf_frame, project_frame, run_http, run_websocket
from bench.fanout import percentile
from bench.servers import cpu_seconds, prepare_database, running

SCENARIOS = [
    # (name, transport, connections, method, path, body)
    ("WS retrieve", "ws", 50, "GET", "/api/snippets/1/", None),
    ("WS retrieve", "ws", 1, "GET", "/api/snippets/1/", None),
    ("WS create", "ws", 50, "POST", "/api/snippets/", {"title": "b", "code": "x = 1"}),
    ("HTTP retrieve", "http", 50, "GET", "/api/snippets/1/", None),
]
FLOORS = {"retrieve": "GET", "create": "POST"}


@contextmanager
def pinned(cpus):
    """Run this process (the load) on `cpus` meanwhile, if the machine has them."""
    before = os.sched_getaffinity(0)
    if cpus and cpus <= before:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def slice_of(server, scenario, side, seconds):
    """One slice against `server` (port, pid): (rate, latencies, CPU ms/request)."""
    port, pid = server
    name, transport, connections, method, path, body = scenario
    if transport == "http":
        runner = run_http(
            port=port,
            connections=connections,
            seconds=seconds,
            method=method,
            path=path,
        )
    else:
        protocol = project_frame if side == "project" else dcrf_frame
        runner = run_websocket(
            port=port,
            connections=connections,
            seconds=seconds,
            method=method,
            path=path,
            body=body,
            protocol=protocol,
        )
    before = cpu_seconds(pid)
    rate, latencies = asyncio.run(runner)
    spent = cpu_seconds(pid) - before
    return rate, latencies, spent * 1000 / max(len(latencies), 1)


def compare(*, seconds=2.0, rounds=5):
    """Markdown lines: each scenario's medians for both sides, and the ratios;
    and the ratios by scenario: `{(name, conns): (rate, by CPU, to floor)}`."""
    two_cores = len(os.sched_getaffinity(0)) >= 2
    server_cpus, load_cpus = ("0", {1}) if two_cores else (None, None)
    samples = {
        (scenario, side): []
        for scenario in range(len(SCENARIOS))
        for side in ("project", "dcrf")
    }
    floors = {kind: [] for kind in FLOORS}
    with ExitStack() as stack:
        servers = {}
        for side, kind in (("project", "web"), ("dcrf", "dcrf")):
            port, pids = stack.enter_context(running(kind, cpus=server_cpus))
            servers[side] = (port, pids[0])
        for _ in range(rounds):
            for kind in floors:
                floors[kind].append(
                    inprocess.rate(kind, "client", seconds, cpus=server_cpus)
                )
            with pinned(load_cpus):
                for index, scenario in enumerate(SCENARIOS):
                    for side in ("project", "dcrf"):
                        samples[index, side].append(
                            slice_of(servers[side], scenario, side, seconds)
                        )
    floor = {kind: statistics.median(rates) for kind, rates in floors.items()}
    where = ", pinned to one core with the load on the other" if two_cores else ""
    lines = [
        "Beside the peer: DCRF 1.3 (Channels 4.3, uvicorn with uvloop and "
        f"httptools), one worker each{where}; "
        f"{rounds} rounds of interleaved {seconds:g} s slices, medians. The floor is "
        f"Django's test Client calling the same view in one process: "
        f"{floor['retrieve']:.0f} retrieves/s, {floor['create']:.0f} creates/s.",
        "",
        "| scenario | conns | project /s | p50 / p99 ms | CPU ms/req | DCRF /s "
        "| p50 / p99 ms | CPU ms/req | project / DCRF | by CPU | project / floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = {}
    for index, (name, _, connections, *_rest) in enumerate(SCENARIOS):
        cells = []
        for side in ("project", "dcrf"):
            runs = samples[index, side]
            rate, latencies, _ = sorted(runs, key=lambda run: run[0])[rounds // 2]
            cpu = statistics.median(run[2] for run in runs)
            cells.append(
                (rate, percentile(latencies, 0.5), percentile(latencies, 0.99), cpu)
            )
        (ours, o50, o99, ocpu), (theirs, t50, t99, tcpu) = cells
        kind = name.split()[-1]
        lines.append(
            f"| {name} | {connections} | {ours:.0f} | {o50:.1f} / {o99:.1f} "
            f"| {ocpu:.2f} | {theirs:.0f} | {t50:.1f} / {t99:.1f} | {tcpu:.2f} "
            f"| {ours / theirs:.2f} | {tcpu / ocpu:.2f} "
            f"| {ours / floor[kind]:.2f} |"
        )
        ratios[name, connections] = (ours / theirs, tcpu / ocpu, ours / floor[kind])
    return lines + [""], ratios


if __name__ == "__main__":
    prepare_database()
    print("\n".join(compare()[0]))
