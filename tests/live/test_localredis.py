"""The private Redis of `make run` and `make test`."""

import signal
import subprocess
import sys

from live import localredis
from tests.conftest import (
    PROJECT_DIR,
    STOP_TIMEOUT_SECONDS,
    plain_shell_env,
    wait_until,
)


def test_started_redis_answers_and_is_reused(tmp_path):
    """A second start finds the running server instead of starting another."""
    first = localredis.ensure_running(tmp_path, "unit")
    try:
        pid = (tmp_path / ".run/unit.pid").read_text()
        assert localredis.ensure_running(tmp_path, "unit") == first
        assert (tmp_path / ".run/unit.pid").read_text() == pid
    finally:
        localredis.stop(tmp_path, "unit")


def test_stop_returns_only_once_redis_is_gone(tmp_path):
    """After stop(), nothing answers: a command started next gets a fresh server."""
    localredis.ensure_running(tmp_path, "unit")
    localredis.stop(tmp_path, "unit")
    socket_path = localredis.socket_path_for(tmp_path / ".run", "unit")
    assert not localredis.answers_ping(socket_path)


def test_overlong_socket_paths_move_to_the_temp_folder(tmp_path):
    """A checkout too deep for a Unix socket path still gets a working Redis."""
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    url = localredis.ensure_running(deep, "unit")
    try:
        assert len(url) < 110
        assert localredis.answers_ping(url.removeprefix("unix://"))
    finally:
        localredis.stop(deep, "unit")


def test_run_gives_the_command_a_redis_and_stops_it_after(tmp_path, monkeypatch):
    """`localredis run -- CMD` sets REDIS_URL for CMD and stops Redis when it ends."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    name = f"unit-{tmp_path.name}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "live.localredis",
            "run",
            "--name",
            name,
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['REDIS_URL'])",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    url = result.stdout.strip()
    assert url.startswith("unix://")
    assert not localredis.answers_ping(url.removeprefix("unix://"))


def takes_private_redis(folder):
    """A shell command: a process that takes the private Redis of `folder` as
    settings.py does with no `REDIS_URL`, then waits to be stopped."""
    code = (
        "import signal; from live import localredis; "
        f"localredis.for_this_process({str(folder)!r}); "
        "print('has Redis', flush=True); signal.pause()"
    )
    return f'{sys.executable} -c "{code}"'


def test_ctrl_c_on_honcho_stops_the_private_redis_its_processes_started(
    tmp_path, started
):
    """Installed by hand, `honcho start` with no `REDIS_URL`: the first of its
    processes starts the private Redis, and Ctrl-C stops it with them."""
    procfile = tmp_path / "Procfile"
    command = takes_private_redis(tmp_path)
    procfile.write_text(f"web: {command}\nclock: {command}\n")
    honcho = started(
        ["honcho", "-f", str(procfile), "-d", str(PROJECT_DIR), "start"],
        env=plain_shell_env(),
    )
    socket_path = localredis.socket_path_for(tmp_path / ".run", "redis")
    try:
        wait_until(lambda: honcho.log().count("has Redis") == 2)
        assert localredis.answers_ping(socket_path)
        honcho.process.send_signal(signal.SIGINT)  # what Ctrl-C sends it
        honcho.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        wait_until(lambda: not localredis.answers_ping(socket_path))
    finally:
        localredis.stop(tmp_path)  # left running only if this test fails


def test_a_command_typed_in_a_shell_leaves_the_private_redis_running(tmp_path):
    """From a terminal the private Redis is a daemon: a Ctrl-C in one command
    must not take it from the others. `stop` ends it."""
    # `script` runs the command on a terminal of its own, as a shell would.
    code = (
        "from live import localredis; "
        f"print(localredis.for_this_process({str(tmp_path)!r}))"
    )
    subprocess.run(
        ["script", "-qec", f'{sys.executable} -c "{code}"', "/dev/null"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        timeout=STOP_TIMEOUT_SECONDS,
    )
    socket_path = localredis.socket_path_for(tmp_path / ".run", "redis")
    try:
        assert localredis.answers_ping(socket_path)
    finally:
        localredis.stop(tmp_path)
