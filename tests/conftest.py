"""
Shared fixtures: fresh throttle state per test, and real server processes.

Servers are real gunicorn (or `python -m wsserver`) processes on ephemeral ports,
sharing the test database and the test Redis with this process. Tests that use
them mark themselves `django_db(transaction=True)` so that their rows are
committed and visible to the servers.
"""

import contextlib
import ctypes
import json
import os
import random
import signal
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
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework_simplejwt.utils import get_md5_hash_password

from live import localredis, testing, throttling
from live.redis_client import get_redis

# The browser, its pages and their helpers, for the page tests.
pytest_plugins = ["tests.browser_fixtures"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = PROJECT_DIR / ".test-artifacts"
# Generous: a loaded machine may take long to start a server, and a correct one
# always starts; a broken one fails at once (it exits) or prints why it waits.
STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 60
# How long a test waits for a reply or an event that must come: long enough for
# a loaded machine; a test whose event never comes still fails, only later.
EVENT_TIMEOUT_SECONDS = testing.TIMEOUT
PASSWORD = "a-long-unusual-passphrase"
SERVER_SECRET_KEY = "test-secret-key-shared-by-every-test-process"


def use_key_prefix(settings, prefix):
    """Make this process's keys, and the history it records changes in, those of
    servers started with `REDIS_KEY_PREFIX=prefix` (as settings.py derives them)."""
    settings.REDIS_KEY_PREFIX = prefix


class SharedHistory:
    """Server processes of a module that record changes in one history with
    this test process, so the ORM's writes here are heard there:

        history = SharedHistory("events")
        server = history.server()  # a module's web process on that history
        other_server = history.server()  # another one, for changes between two
        shared_prefix = history.recorded_here()  # autouse: for each test

    `history.prefix` is its key prefix, for servers a test starts itself."""

    def __init__(self, name):
        self.prefix = f"test:{name}:{uuid.uuid4().hex}"

    def server(self, **settings):
        @pytest.fixture(scope="module")
        def server(server_factory):
            return server_factory(REDIS_KEY_PREFIX=self.prefix, **settings)

        return server

    def recorded_here(self):
        @pytest.fixture(autouse=True)
        def shared_prefix(settings):
            use_key_prefix(settings, self.prefix)

        return shared_prefix


def server_sharing_history(name):
    """The common case: `server, shared_prefix = server_sharing_history("x")`."""
    history = SharedHistory(name)
    return history.server(), history.recorded_here()


@pytest.fixture(autouse=True)
def fresh_redis_keys(settings):
    """Give each test its own key prefix (throttle buckets start empty)."""
    use_key_prefix(settings, f"test:{uuid.uuid4().hex}")
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
        path = Path(tempfile.mkdtemp(prefix="test-db-")) / "db.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_to_reuse():
    """A free port below the ephemeral range, for a server that restarts on it:
    no `free_port()` of a parallel test (nor any client socket) is handed it
    while the server is down, as an ephemeral port could be."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(low // 2, low), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


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
    """A running server process, the leader of its own process group."""

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

    def stop(self, sig=signal.SIGTERM):
        """Stop the server and every process it started (gunicorn's workers)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @staticmethod
    def stop_all(servers):
        """Stop `servers` at once: each is told to stop before any is waited for."""
        for server in servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in servers:
            server.stop()

    def wait_until_serving(self):
        """Poll /healthz until it answers 200; any failure to answer means not yet."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Server exited:\n{self.log()}")
            try:
                response = requests.get(f"{self.url}/healthz", timeout=5)
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Server did not start in time:\n{self.log()}")


def server_env(**overrides):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
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
        LOGIN_THROTTLE_RATE="100000/min",
        LOGIN_ACCOUNT_THROTTLE_RATE="100000/min",
        # Servers live for the whole session, dozens at once: none may keep idle
        # database connections (PostgreSQL allows only so many clients).
        CONN_MAX_AGE="0",
        # Production settings, served over plain HTTP on loopback.
        SECURE_SSL_REDIRECT="false",
    )
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def server_command(kind, port):
    if kind == "web":
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:wsserver.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "wsserver.app:make_app()",
        ]
    return [
        sys.executable,
        "-m",
        "wsserver",
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def die_with_parent():
    """In the child: get SIGTERM when the test process dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def launch(command, *, env, log_path, port):
    """Start `command` in a process group of its own, so it can be stopped whole,
    and bound to this process, so a killed test run leaves no server behind."""
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    return Server(process=process, port=port, log_path=log_path, env=env)


def server_token(user, *, expires=None, session=True):
    """An access token for `user` that test servers accept (signed with their
    key), valid for an hour or until `expires` (a Unix time), of a session of its
    own that is never signed out (or of none, as tokens made before sessions)."""
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": expires or now + 3600,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(user.pk),
        # What CHECK_REVOKE_TOKEN compares: a password change ends the token.
        "hash_password": get_md5_hash_password(user.password),
    }
    if session:
        claims["sid"] = uuid.uuid4().hex  # live/tokens.py
    return jwt.encode(claims, SERVER_SECRET_KEY, algorithm="HS256")


@pytest.fixture(scope="session")
def server_factory(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start `web` (gunicorn) or `wsserver` processes on the test database and
    wait until they serve; every one is stopped at the end, started or not."""
    servers = []

    def start(*, kind="web", port=None, **env_overrides):
        port = port or free_port()
        server = launch(
            server_command(kind, port),
            env=server_env(PORT=port, **env_overrides),
            log_path=tmp_path_factory.mktemp("server") / "server.log",
            port=port,
        )
        servers.append(server)
        server.wait_until_serving()
        return server

    yield start
    Server.stop_all(servers)


@pytest.fixture(scope="session")
def web_server(server_factory):
    """One `web` process (gunicorn + Tornado worker), shared by the session."""
    return server_factory()


@pytest.fixture
def author():
    """A user of this test who writes, and a token test servers accept for
    them: `(user, token)`."""
    user = testing.new_user("author")
    return user, server_token(user)


def share(author, text):
    """A note shared by `author` (`(user, token)`), made through the ORM as any
    process of the app may make it; heard by servers on this history."""
    from tests.notes.models import Note

    return Note.objects.create(owner=author[0], text=text, shared=True)


def post_note(server, author, text):
    """Share a note over HTTP on `server` as `author`; the response."""
    return requests.post(
        f"{server.url}/api/notes/",
        json={"text": text, "shared": True},
        headers={"Authorization": f"JWT {author[1]}"},
        timeout=EVENT_TIMEOUT_SECONDS,
    )


def note_url(note):
    """The URL of a note: a row, or the API's body (which carries its `id` only)."""
    return f"/api/notes/{note['id'] if isinstance(note, dict) else note.pk}/"


def sign_up_token(server, username=None):
    """Sign a new user up on `server` over HTTP; return their access token."""
    username = username or f"user{uuid.uuid4().hex[:8]}"
    credentials = {"username": username, "password": PASSWORD}
    requests.post(f"{server.url}/api/users/", json=credentials).raise_for_status()
    response = requests.post(f"{server.url}/api/auth/token/", json=credentials)
    response.raise_for_status()
    return response.json()["access"]


def wait_until(condition, *, timeout=EVENT_TIMEOUT_SECONDS, interval=0.05):
    """Poll `condition` until it is true; fail if the deadline passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


@dataclass
class OwnRedis:
    """A Redis of a test's own (on a socket in its folder), to stop, start again
    (losing everything: it keeps nothing on disk) or attack; `url` for servers."""

    folder: Path
    name: str = "own-redis"

    @property
    def url(self):
        return f"unix://{localredis.socket_path_for(self.folder / '.run', self.name)}"

    def start(self):
        localredis.ensure_running(self.folder, self.name)

    def stop(self):
        """Stop it, and wait until it answers no more."""
        localredis.stop(self.folder, self.name)
        socket_path = localredis.socket_path_for(self.folder / ".run", self.name)
        wait_until(lambda: not localredis.answers_ping(socket_path))


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, stopped at the end."""
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    localredis.stop(tmp_path, redis.name)


@pytest.fixture
def next_record_fails(monkeypatch):
    """The next change this process records in the history fails, as when Redis
    is unreachable at commit (a fault injected; Redis itself stays up)."""
    client = get_redis()
    xadd = client.xadd
    failures = iter([RedisConnectionError("injected")])

    def failing_once(*args, **kwargs):
        for failure in failures:
            raise failure
        return xadd(*args, **kwargs)

    monkeypatch.setattr(client, "xadd", failing_once)


class EventStream:
    """An open `/ws/events` response, read one event at a time."""

    def __init__(self, server, url, **headers):
        self.response = requests.get(
            f"{server.url}/ws/events",
            params={"url": url},
            headers=headers,
            stream=True,
            timeout=EVENT_TIMEOUT_SECONDS,
        )
        self.lines = self.response.iter_lines(decode_unicode=True)

    def next_event(self):
        """`{"event", "id", "data"}` of the next event; comments are skipped."""
        fields = {}
        for line in self.lines:
            if not line:
                if "data" in fields:
                    fields["data"] = json.loads(fields["data"])
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        raise AssertionError("the stream ended")

    def close(self):
        self.response.close()


# Commands started from a plain shell: an environment holding only what the
# README tells a user to set, with the virtualenv's `bin/` on `PATH`.
VENV_BIN = Path(sys.executable).parent


def plain_shell_env(**variables):
    """`env -i` plus a PATH with the virtualenv, plus `variables`."""
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/"),
        "PYTHONUNBUFFERED": "1",
        **variables,
    }


def manage(*arguments, env, timeout=STARTUP_TIMEOUT_SECONDS):
    """Run `python manage.py ARGUMENTS` to its end in the project folder, with
    `env` as its whole environment; return it, its output as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
    Server.stop_all(servers)
