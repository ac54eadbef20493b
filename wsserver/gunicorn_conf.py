"""gunicorn settings for the `web` process: `gunicorn -c python:wsserver.gunicorn_conf`.

Not named gunicorn.conf.py on purpose: gunicorn would load that for split mode's
plain `gunicorn config.wsgi` too.
"""

import os
import shutil
import socket
import tempfile
from pathlib import Path


def dual_stack_available():
    """Return `True` if one socket on `[::]` takes IPv4 and IPv6 connections."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            v6only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
            sock.bind(("::", 0))
    except OSError:
        return False
    return not v6only


def bind_address(host: str | None, port: str) -> str:
    """`HOST:PORT`; with no `HOST`, every address: `[::]` where the platform has
    IPv6 (it accepts IPv4 too), as gunicorn's docs and Heroku's starter do,
    plain IPv4 where it has not. (`make run` sets `HOST=127.0.0.1`: it serves
    the development key, so only this machine may reach it.)"""
    if host:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"[::]:{port}" if dual_stack_available() else f"0.0.0.0:{port}"


# Without a SECRET_KEY the process serves the development key (or refuses to
# start): this machine only, unless HOST says otherwise, however it was started
# (`make run`, or `honcho start` by hand).
DEFAULT_HOST = None if os.environ.get("SECRET_KEY") else "127.0.0.1"
bind = bind_address(
    os.environ.get("HOST") or DEFAULT_HOST, os.environ.get("PORT", "5000")
)
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
worker_class = "wsserver.worker.WebWorker"
# `make run` (RELOAD=true): workers restart when code or a template changes,
# as `runserver` does; never in production, where a deploy restarts them.
reload = os.environ.get("RELOAD", "").lower() in {"1", "true", "yes", "on"}
# Templates too: gunicorn watches only the Python modules it loaded.
TEMPLATES = ["*/templates/**/*.html", "*/*/templates/**/*.html", "static/*.html"]
reload_extra_files = [
    str(path) for pattern in TEMPLATES if reload for path in Path.cwd().glob(pattern)
]
# Longer than the WebSocket drain (WS_DRAIN_SECONDS), so workers close cleanly.
graceful_timeout = 30
# gunicorn 25+ opens a control socket at one path per user: two instances on one
# machine would fight over it. Nothing here uses it.
control_socket_disable = True
accesslog = None

# Metrics (live/metrics.py): each worker writes its figures to files in one
# folder, and a scrape of any worker adds up every worker's. The folder must be
# set before a worker imports prometheus_client; one of our own unless given,
# named by this master's pid, so a later start can sweep what a killed one left.
METRICS_DIRS = Path(tempfile.gettempdir())
metrics_dir_made = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if metrics_dir_made:
    metrics_dir = METRICS_DIRS / f"web-metrics-{os.getpid()}"
    metrics_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):
    """Start from zero: figures a previous run left in a given folder are
    stale, and so are the folders of ours whose master is gone."""
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()
    for folder in METRICS_DIRS.glob("web-metrics-*"):
        pid = folder.name.removeprefix("web-metrics-")
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def child_exit(server, worker):
    """A worker's gauges leave with it; its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if metrics_dir_made:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
