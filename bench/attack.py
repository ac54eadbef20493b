"""
`python -m bench.attack`: one `web` process with its shipped limits, under three
bounded loopback attacks, each measured by the worker's memory and by the
latency a well-behaved client sees meanwhile. Run it under a Redis:

    python -m live.localredis run --name attack-redis -- python -m bench.attack

The well-behaved client (the probe) runs in a process of its own, so the
attackers' CPU in this process does not count against it, and connects from
127.0.0.2 (still loopback): the per-address cap is about the attacker's address,
and the probe's one socket must not take one of its slots. It sends one request
at a time, paced at PROBE_RATE a second, under the per-socket frame budget.
"""

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import threading
import time

from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.fanout import percentile
from bench.servers import RESULTS_DIR, prepare_database, resident_mib, running

# The shipped limits that `bench_env` lifts for throughput runs.
LIMITS = {
    "WS_MAX_CONNECTIONS_PER_ADDRESS": "100",
    "WS_FRAMES_PER_SECOND": "200",
    "WS_MAX_QUEUED_REQUESTS": "256",
}
SECONDS = 3
SAMPLE_SECONDS = 0.05
SETTLE_SECONDS = 1
PROBE_ADDRESS = "127.0.0.2"
PROBE_RATE = 100  # requests a second; the frame budget is 200
PROBE_TIMEOUT_SECONDS = 5
PATH = "/api/snippets/1/"

BODY_CLIENTS = 4
BODY_BYTES = 60_000_000
BODY_CHUNK = b"x" * 65536
BODY_MAX_CONNECTIONS = 10_000  # per client, besides the time bound

FLOOD_MAX_FRAMES = 2_000_000
HOG_MAX_CONNECTIONS = 300


# --- The probe: `python -m bench.attack --probe PORT`, driven over stdin. ---


def probe_main(port):
    """For each `run SECONDS` line on stdin, time requests for that long and
    print one JSON line; `quit` (or EOF) ends."""
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{port}/ws/api"

    def open_socket():
        return connect(
            url,
            source_address=(PROBE_ADDRESS, 0),
            open_timeout=PROBE_TIMEOUT_SECONDS,
            compression=None,
            legacy=True,  # closed by hand, as it may reconnect
        )

    ws = open_socket()
    print("ready", flush=True)
    number = 0
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] != "run":
            break
        seconds = float(command[1])
        latencies, failed, statuses, errors = [], 0, collections.Counter(), []
        deadline = time.monotonic() + seconds
        next_at = time.monotonic()
        while (now := time.monotonic()) < deadline:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += 1 / PROBE_RATE
            number += 1
            started = time.perf_counter()
            try:
                if ws is None:
                    ws = open_socket()
                ws.send(json.dumps({"id": number, "url": PATH}))
                while True:
                    reply = json.loads(ws.recv(timeout=PROBE_TIMEOUT_SECONDS))
                    if reply.get("id") == number:
                        break
            except Exception as error:  # noqa: BLE001 - every failure counts
                failed += 1
                errors.append(f"{type(error).__name__}: {error}"[:120])
                if ws is not None:
                    ws.close()
                ws = None
                continue
            statuses[reply.get("status")] += 1
            if reply.get("status") == 200:
                latencies.append(time.perf_counter() - started)
            else:
                failed += 1
        result = {
            "requests": sum(statuses.values()) + len(errors),
            "failed": failed,
            "statuses": {str(key): value for key, value in statuses.items()},
            "errors": errors[:3],
            "p50": percentile(latencies, 0.5) if latencies else None,
            "p99": percentile(latencies, 0.99) if latencies else None,
        }
        print(json.dumps(result), flush=True)
    if ws is not None:
        ws.close()


class Probe:
    def __init__(self, port):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.attack", "--probe", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("probe did not connect")

    def start(self, seconds):
        self.process.stdin.write(f"run {seconds}\n")
        self.process.stdin.flush()

    def result(self):
        return json.loads(self.process.stdout.readline())

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class MemorySampler(threading.Thread):
    """The peak resident memory of `pid`, sampled every SAMPLE_SECONDS."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = resident_mib(pid)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.peak = max(self.peak, resident_mib(self.pid))
            self.stopping.wait(SAMPLE_SECONDS)

    def stop(self):
        self.stopping.set()
        self.join()
        self.peak = max(self.peak, resident_mib(self.pid))
        return self.peak


# --- The attacks: each returns a dict of what it saw, and stops by itself. ---


async def big_body(port):
    """BODY_CLIENTS raw connections each POSTing a 60 MB body, again and again."""
    deadline = time.monotonic() + SECONDS
    seen = collections.Counter()
    status_lines = collections.Counter()
    head = (
        "POST /api/snippets/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {BODY_BYTES}\r\n\r\n"
    ).encode()

    async def read_reply(reader):
        """The status line, and whether the server then closed the connection."""
        status = (await reader.readline()).decode(errors="replace").strip()
        try:
            while await reader.read(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        return status

    async def one_request():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        seen["connections"] += 1
        replied = asyncio.ensure_future(read_reply(reader))
        sent = 0
        try:
            writer.write(head)
            while sent < BODY_BYTES and time.monotonic() < deadline:
                writer.write(BODY_CHUNK)
                await asyncio.wait_for(
                    writer.drain(), max(0.01, deadline - time.monotonic())
                )
                sent += len(BODY_CHUNK)
        except (ConnectionResetError, BrokenPipeError) as error:
            seen[f"write {type(error).__name__}"] += 1
        except TimeoutError:
            seen["write still blocked at the deadline"] += 1
        seen["body bytes sent"] += sent
        try:
            status = await asyncio.wait_for(replied, 2)
            status_lines[status or "(none)"] += 1
            seen["closed by server"] += 1
        except TimeoutError:
            status_lines["(no reply within 2 s)"] += 1
            seen["left open by server"] += 1
        except (ConnectionResetError, BrokenPipeError):
            status_lines["(reset before a status line)"] += 1
            seen["closed by server"] += 1
        writer.close()

    async def client():
        for _ in range(BODY_MAX_CONNECTIONS):
            if time.monotonic() >= deadline:
                break
            await one_request()

    await asyncio.gather(*(client() for _ in range(BODY_CLIENTS)))
    return {"status lines": dict(status_lines), **seen}


async def frame_flood(port):
    """One socket sending frames as fast as it can, reading replies aside."""
    started = time.monotonic()
    statuses = collections.Counter()
    sent, reader_saw_close_at = 0, None
    message = json.dumps({"url": PATH})
    async with async_connect(
        f"ws://127.0.0.1:{port}/ws/api", compression=None, max_queue=None
    ) as ws:

        async def read_replies():
            nonlocal reader_saw_close_at
            try:
                async for reply in ws:
                    statuses[json.loads(reply).get("status")] += 1
            except ConnectionClosed:
                pass
            reader_saw_close_at = time.monotonic()

        reading = asyncio.ensure_future(read_replies())
        closed_by = "client, at the deadline"
        try:
            async with asyncio.timeout(SECONDS):  # a blocked send stops too
                while sent < FLOOD_MAX_FRAMES:
                    await ws.send(message)
                    sent += 1
                    if sent % 100 == 0:
                        await asyncio.sleep(0)  # let the reader run
        except TimeoutError:
            pass
        except ConnectionClosed:
            closed_by = "server"
        sending_stopped_at = time.monotonic()
        if ws.close_code is None:
            await ws.close()
        await asyncio.wait_for(reading, 5)

    def elapsed(moment):
        return None if moment is None else round(moment - started, 2)

    return {
        "frames sent": sent,
        "replies": {str(key): value for key, value in statuses.items()},
        "close code": ws.close_code,
        "sending stopped by": closed_by,
        "sending stopped after (s)": elapsed(sending_stopped_at),
        "reader saw the close after (s)": elapsed(reader_saw_close_at),
    }


async def connection_hog(port):
    """Open up to HOG_MAX_CONNECTIONS sockets from 127.0.0.1 until refused."""
    deadline = time.monotonic() + SECONDS
    sockets, refusals = [], collections.Counter()
    try:
        for _ in range(HOG_MAX_CONNECTIONS):
            if time.monotonic() >= deadline:
                break
            try:
                sockets.append(
                    await async_connect(
                        f"ws://127.0.0.1:{port}/ws/api",
                        local_addr=("127.0.0.1", 0),
                        compression=None,
                    )
                )
            except InvalidStatus as refused:
                refusals[refused.response.status_code] += 1
                break
            except OSError as error:
                refusals[type(error).__name__] += 1
                break
        accepted = len(sockets)
        await asyncio.sleep(max(0, deadline - time.monotonic()))  # hold them
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"accepted": accepted, "refused": dict(refusals)}


ATTACKS = {
    "big body": big_body,
    "frame flood": frame_flood,
    "connection hog": connection_hog,
}


# --- The run and its report. ---


def describe(outcome):
    return "; ".join(f"{key}: {value}" for key, value in outcome.items())


def row(phase, before, peak, probe, outcome):
    def ms(value):
        return "-" if value is None else f"{value:.1f}"

    return (
        f"| {phase} | {before:.1f} | {peak:.1f} | {ms(probe['p50'])} | "
        f"{ms(probe['p99'])} | {probe['requests']} | {probe['failed']} | "
        f"{describe(outcome)} |"
    )


def main():
    prepare_database()
    rows = []
    with running("web", env=LIMITS) as (port, pids):
        pid = pids[0]
        probe = Probe(port)
        try:
            sampler = MemorySampler(pid)
            sampler.start()
            probe.start(SECONDS)
            time.sleep(SECONDS)
            baseline = probe.result()
            rss = resident_mib(pid)
            rows.append(row("quiet baseline", rss, sampler.stop(), baseline, {}))
            for name, attack in ATTACKS.items():
                time.sleep(SETTLE_SECONDS)
                before = resident_mib(pid)
                sampler = MemorySampler(pid)
                sampler.start()
                probe.start(SECONDS)
                outcome = asyncio.run(attack(port))
                peak = sampler.stop()
                result = probe.result()
                if result["errors"]:
                    outcome["probe errors"] = result["errors"]
                if set(result["statuses"]) - {"200"}:
                    outcome["probe statuses"] = result["statuses"]
                rows.append(row(name, before, peak, result, outcome))
        finally:
            probe.stop()
    table = "\n".join(
        [
            "One `web` process (gunicorn + 1 Tornado worker), shipped limits "
            f"({', '.join(f'{k}={v}' for k, v in LIMITS.items())}); "
            f"probe: 1 WebSocket from {PROBE_ADDRESS}, GET {PATH}, "
            f"{PROBE_RATE}/s one at a time, {SECONDS} s per phase.",
            "",
            "| phase | worker RSS before (MiB) | worker RSS peak (MiB) | "
            "probe p50 (ms) | probe p99 (ms) | probe requests | "
            "probe failed or non-200 | attack outcome |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )
    print(table)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "attack.md").write_text(table + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe_main(args.probe)
    else:
        main()
