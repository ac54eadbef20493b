"""The private Redis of `make run` and `make test`."""

import subprocess
import sys

from live import localredis
from tests.conftest import PROJECT_DIR


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
