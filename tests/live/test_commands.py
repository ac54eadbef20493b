"""
Every documented command, started from a plain shell: an environment holding only
what README.md tells a user to set (no `DJANGO_SETTINGS_MODULE`, nothing from
pytest), with the virtualenv's `bin/` on `PATH` as after a manual install.
"""

import json

import pytest
from websockets.sync.client import connect

from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    PROJECT_DIR,
    database_url,
    deploy_env,
    free_port,
    plain_shell_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_split_mode_websocket_server_starts_from_a_plain_shell(started):
    """`python -m wsserver --port P` needs no DJANGO_SETTINGS_MODULE."""
    port = free_port()
    server = started(
        ["python", "-m", "wsserver", "--port", str(port)], env=deploy_env(), port=port
    )
    server.wait_until_serving()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "url": "/healthz"}))
        assert json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))["status"] == 200


def test_split_mode_http_server_starts_from_a_plain_shell(started):
    """`gunicorn config.wsgi` serves the HTTP API with ordinary workers."""
    port = free_port()
    command = ["gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    started(command, env=deploy_env(), port=port).wait_until_serving()


def test_honcho_start_serves_the_app_with_nothing_configured(started):
    """After a manual install, `honcho start` runs the app from `.env` alone,
    on 127.0.0.1 only (it signs with the development key).

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
    # It serves the development key: this machine only, started by hand too.
    assert f"Listening at: http://127.0.0.1:{port}" in server.log()


def test_python_version_files_agree():
    """`.python-version` and `runtime.txt` name the same Python."""
    python_version = (PROJECT_DIR / ".python-version").read_text().strip()
    runtime = (PROJECT_DIR / "runtime.txt").read_text().strip()
    assert runtime.startswith(f"python-{python_version}.")
