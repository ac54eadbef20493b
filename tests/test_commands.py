"""
Every documented command, started from a plain shell: an environment holding only
what README.md tells a user to set (no `DJANGO_SETTINGS_MODULE`, nothing from
pytest), with the virtualenv's `bin/` on `PATH` as after a manual install.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    PROJECT_DIR,
    database_url,
    free_port,
    launch,
    wait_until,
)
from wsserver.gunicorn_conf import dual_stack_available

pytestmark = pytest.mark.django_db(transaction=True)

VENV_BIN = Path(sys.executable).parent


def plain_shell_env(**variables):
    """`env -i` plus a PATH with the virtualenv, plus `variables`."""
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONUNBUFFERED": "1",
        **variables,
    }


def deploy_env(**variables):
    """What the README's deploy section has a user set (the platform sets the URLs)."""
    from django.conf import settings

    return plain_shell_env(
        **{
            "SECRET_KEY": "a-long-random-production-secret",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            # Production settings, served over plain HTTP on loopback.
            "SECURE_SSL_REDIRECT": "false",
            **variables,
        }
    )


@pytest.fixture
def started(tmp_path):
    """Start commands as a user would; every one is stopped at the end."""
    servers = []

    def start(command, *, env, port=None):
        server = launch(
            command,
            env=env,
            log_path=tmp_path / f"command{len(servers)}.log",
            port=port or free_port(),
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_split_mode_websocket_server_starts_from_a_plain_shell(started):
    """`python -m wsserver --port P` needs no DJANGO_SETTINGS_MODULE."""
    port = free_port()
    server = started(
        ["python", "-m", "wsserver", "--port", str(port)], env=deploy_env(), port=port
    )
    server.wait_until_serving()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": "/api/"}))
        assert json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))["status"] == 200


def test_split_mode_http_server_starts_from_a_plain_shell(started):
    """`gunicorn config.wsgi` serves the HTTP API with ordinary workers."""
    port = free_port()
    command = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    started(command, env=deploy_env(), port=port).wait_until_serving()


def test_honcho_start_serves_the_app_with_nothing_configured(started):
    """After a manual install, `honcho start` runs web and clock from `.env` alone.

    Only the two URLs are given, to share this test's database and Redis (a user
    would leave them out and get SQLite and a private Redis).
    """
    from django.conf import settings

    port = free_port()
    server = started(
        ["honcho", "start", "--port", str(port)],
        env=plain_shell_env(DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL),
        port=port,
    )
    server.wait_until_serving()
    wait_until(lambda: "Clock: erasing every" in server.log())
    if dual_stack_available():  # the web process listens on [::], IPv6 included
        with socket.create_connection(("::1", port), timeout=EVENT_TIMEOUT_SECONDS):
            pass


def test_erase_snippets_runs_from_a_plain_shell():
    """`python manage.py erase_snippets` needs only the deploy settings."""
    result = subprocess.run(
        ["python", "manage.py", "erase_snippets"],
        cwd=PROJECT_DIR,
        env=deploy_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Erased 0 snippets" in result.stderr


def test_clock_runs_from_a_plain_shell(started):
    """`python manage.py clock` starts and erases at once."""
    clock = started(["python", "manage.py", "clock"], env=deploy_env())
    wait_until(lambda: "Erased" in clock.log())


def test_a_clock_started_before_the_migrations_logs_one_line(started, tmp_path):
    """At a deploy's first start the clock may run before the web process has
    migrated: it says so in one line, no traceback, and keeps going."""
    empty = f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}"
    clock = started(
        ["python", "manage.py", "clock"], env=deploy_env(DATABASE_URL=empty)
    )
    wait_until(lambda: "database not ready" in clock.log())
    assert "Traceback" not in clock.log()


def test_python_version_files_agree():
    """`.python-version` and `runtime.txt` name the same Python."""
    python_version = (PROJECT_DIR / ".python-version").read_text().strip()
    runtime = (PROJECT_DIR / "runtime.txt").read_text().strip()
    assert runtime.startswith(f"python-{python_version}.")
