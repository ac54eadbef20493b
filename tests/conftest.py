"""
Shared fixtures: fresh throttle state per test, and real server processes.

Servers are real gunicorn (or `python -m wsserver`) processes on ephemeral ports,
sharing the test database and the test Redis with this process. Tests that use
them mark themselves `django_db(transaction=True)` so that their rows are
committed and visible to the servers.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import requests
from django.conf import settings as django_settings

from snippets import throttling

PROJECT_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = PROJECT_DIR / ".test-artifacts"
STARTUP_TIMEOUT_SECONDS = 30
SERVER_SECRET_KEY = "test-secret-key-shared-by-every-test-process"


@pytest.fixture(autouse=True)
def fresh_redis_keys(settings):
    """Give each test its own key prefix (throttle buckets start empty)."""
    settings.REDIS_KEY_PREFIX = f"test:{uuid.uuid4().hex}"
    settings.EVENTS_CHANNEL = f"{settings.REDIS_KEY_PREFIX}:events"
    # In-process tests need no collected manifest; server processes use the
    # real one, which `make test` builds first (as a deploy's build does).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    throttling.limiter.cache_clear()
    yield
    throttling.limiter.cache_clear()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A file (not in-memory) SQLite test database, so servers can share it."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(tempfile.mkdtemp(prefix="snippets-test-db-")) / "db.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    """The URL of the test database this process uses, for a server process."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{db['NAME']}"


@dataclass
class Server:
    """A running server process."""

    process: subprocess.Popen
    port: int
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}/ws/api"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=None):
        if self.process.poll() is None:
            self.process.terminate() if sig is None else self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(**overrides):
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY=SERVER_SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url(),
        REDIS_URL=django_settings.REDIS_URL,
        REDIS_KEY_PREFIX=f"test:{uuid.uuid4().hex}",
        WEB_CONCURRENCY="1",
        PYTHONUNBUFFERED="1",
        ANON_THROTTLE_RATE="100000/min",
        USER_THROTTLE_RATE="100000/min",
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def start_server(tmp_path_factory, *, kind="web", port=None, **env_overrides):
    """Start a `web` (gunicorn) or `wsserver` process and wait until it serves."""
    port = port or free_port()
    env = server_env(PORT=port, **env_overrides)
    if kind == "web":
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:wsserver.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "wsserver.app:make_app()",
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "wsserver",
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process=process, port=port, log_path=log_path, env=env)
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Server exited:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"Server did not start:\n{server.log()}")


def server_token(user):
    """An access token for `user` that test servers accept (signed with their key)."""
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(user.pk),
    }
    return jwt.encode(claims, SERVER_SECRET_KEY, algorithm="HS256")


@pytest.fixture(scope="session")
def server_factory(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start servers on the test database; all are stopped at the end."""
    servers = []

    def start(**kwargs):
        server = start_server(tmp_path_factory, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def web_server(server_factory):
    """One `web` process (gunicorn + Tornado worker), shared by the session."""
    return server_factory()
