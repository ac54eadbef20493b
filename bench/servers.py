"""Start and stop the processes under test, on a bench database of their own."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_DIR / "bench" / "results"
THREADS = 8
# The peer's own virtualenv (`make bench` makes it from bench/peer/requirements.txt).
PEER_PYTHON = PROJECT_DIR / "bench" / ".peer-venv" / "bin" / "python"


def bench_env(**overrides):
    """Production-like settings; throttles on as shipped, with rates that never trip."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY="bench-secret-key-bench-secret-key-bench",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DATABASE_URL=f"sqlite:///{RESULTS_DIR / 'bench.sqlite3'}",
        REDIS_KEY_PREFIX="bench",
        ANON_THROTTLE_RATE="100000000/min",
        USER_THROTTLE_RATE="100000000/min",
        LOGIN_THROTTLE_RATE="100000000/min",
        WS_THREADS=str(THREADS),
        WS_MAX_CONNECTIONS="20000",
        # Load from one address, as fast as it goes: no limit may shed it.
        WS_MAX_CONNECTIONS_PER_ADDRESS="20000",
        WS_FRAMES_PER_SECOND="1000000",
        WS_MAX_QUEUED_REQUESTS="100000",
        # Per-request INFO lines off for every server alike (gthread logs none).
        LOG_LEVEL="WARNING",
        # Production settings, served over plain HTTP on loopback.
        SECURE_SSL_REDIRECT="false",
        PYTHONPATH=str(PROJECT_DIR),
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def in_django(module, *args):
    """Run `python -m module args` in a Django process on the bench database
    (tokens it signs valid for an hour); return what it printed."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_DIR,
        env=bench_env(ACCESS_TOKEN_LIFETIME_SECONDS=3600),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def prepare_database():
    """A fresh bench database with one snippet to retrieve (id 1)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a journal left beside a new file breaks it
        (RESULTS_DIR / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "-v0"], cwd=PROJECT_DIR, env=bench_env(), check=True
    )
    seed = (
        "from snippets.models import Snippet; "
        "Snippet.objects.create(title='bench', code='def f(x):\\n    return x * 2\\n')"
    )
    subprocess.run(
        [*manage, "shell", "-c", seed],
        cwd=PROJECT_DIR,
        env=bench_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_module(module, *args, cpus=None):
    """Run `python -m module args` in a process of its own, with the bench's
    settings (on `cpus`, if given: `taskset -c`); the JSON its last line prints."""
    command = [sys.executable, "-m", module, *map(str, args)]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    output = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env=bench_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# The servers running now, stopped by `stop_all` when the bench is interrupted.
RUNNING: set[subprocess.Popen] = set()


def stop_all():
    """Stop every server still running (the bench was interrupted)."""
    for process in list(RUNNING):
        process.terminate()
    for process in list(RUNNING):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)


@contextlib.contextmanager
def running(kind, *, workers=1, env=None, cpus=None):
    """Run a server of `kind` (web, gthread, dcrf, echo, broadcast) and yield
    `(port, pids)`; `env` entries override `bench_env()` for it; `cpus` pins it
    (`taskset -c`)."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    if kind == "dcrf":
        command = [
            str(PEER_PYTHON),
            "-m",
            "uvicorn",
            "bench.peer.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        env = {"DJANGO_SETTINGS_MODULE": "bench.peer.settings", **(env or {})}
    elif kind == "web":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:wsserver.gunicorn_conf",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "wsserver.app:make_app()",
        ]
    elif kind == "gthread":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(THREADS),
            "--no-control-socket",
            "config.wsgi",
        ]
    elif kind == "broadcast":
        command = [sys.executable, "-m", "bench.broadcast", str(port)]
    else:
        command = [sys.executable, "-m", "bench.echo", str(port)]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    log = (RESULTS_DIR / f"{kind}.log").open("w")
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=bench_env(**(env or {})),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    RUNNING.add(process)
    try:
        wait_until_serving(port, process)
        yield port, worker_pids(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        RUNNING.discard(process)
        log.close()


def wait_until_serving(port, process):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited; see {RESULTS_DIR}")
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"http://127.0.0.1:{port}/api/snippets/1/", timeout=5).ok:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def worker_pids(pid):
    """The server's worker processes (gunicorn's children), or itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children] or [pid]


def cpu_seconds(pid):
    """CPU time `pid` has used so far, user and system, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def resident_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
