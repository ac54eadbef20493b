"""
Redis over TLS (`rediss://`): with a self-signed certificate, the whole app works
when `REDIS_SSL_CERT_REQS=none`, and refuses the untrusted certificate by default.
"""

import json
import shutil
import subprocess
import time

import pytest
import redis
import requests
from django.test import Client
from websockets.sync.client import connect

from live.redis_client import get_redis
from live.testing import new_user
from tests.conftest import EVENT_TIMEOUT_SECONDS, free_port, server_token

pytestmark = pytest.mark.django_db(transaction=True)

STARTUP_TIMEOUT_SECONDS = 30


def make_self_signed_certificate(directory):
    """Write a self-signed certificate for 127.0.0.1 and its key; return both paths."""
    cert, key = directory / "redis.crt", directory / "redis.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_redis_url(tmp_path_factory):
    """A `redis-server` serving only TLS, with a self-signed certificate."""
    directory = tmp_path_factory.mktemp("tls-redis")
    cert, key = make_self_signed_certificate(directory)
    port = free_port()
    log_path = directory / "redis.log"
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
        ],
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"rediss://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(
            url, ssl_cert_reqs="none", socket_timeout=1, socket_connect_timeout=1
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"TLS redis-server exited:\n{log_path.read_text()}")
            try:
                if client.ping():
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"TLS redis-server did not answer:\n{log_path.read_text()}"
                )
            time.sleep(0.1)
        client.close()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_tls_redis_with_cert_checks_off_serves_health_api_and_events(
    tls_redis_url, server_factory
):
    """With REDIS_SSL_CERT_REQS=none, health, throttled API and live events all work."""
    server = server_factory(REDIS_URL=tls_redis_url, REDIS_SSL_CERT_REQS="none")
    health = requests.get(f"{server.url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert requests.get(f"{server.url}/api/notes/", timeout=10).status_code == 200
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"id": 1, "method": "SUBSCRIBE", "url": "/api/notes/"}))
        reply = json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))
        assert reply["id"] == 1
        assert reply["status"] == 200
        author = new_user("tls")
        response = requests.post(
            f"{server.url}/api/notes/",
            json={"text": "over tls", "shared": True},
            headers={"Authorization": f"JWT {server_token(author)}"},
            timeout=10,
        )
        assert response.status_code == 201
        created = response.json()
        event = json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))
    url = f"/api/notes/{created['id']}/"
    shown = requests.get(f"{server.url}{url}", timeout=10).json()
    assert event.pop("position")
    assert event.pop("etag")
    assert event == {"event": "created", "url": url, "data": shown}


@pytest.fixture
def tls_redis_with_cert_checks(settings, tls_redis_url):
    """This process's Redis client on the TLS Redis, verifying its certificate."""
    assert settings.REDIS_SSL_CERT_REQS == "required"  # the default
    settings.REDIS_URL = tls_redis_url
    settings.REDIS_OPTIONS = {
        **settings.REDIS_OPTIONS,
        "ssl_cert_reqs": settings.REDIS_SSL_CERT_REQS,
    }
    get_redis.cache_clear()
    yield
    get_redis.cache_clear()


def test_untrusted_certificate_is_503_naming_redis_by_default(
    tls_redis_with_cert_checks,
):
    """By default (required), a self-signed Redis certificate makes /healthz 503."""
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["redis"]}
