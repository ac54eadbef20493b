"""/healthz: 200 when the database and Redis answer, 503 naming what does not."""

import pickle
from pathlib import Path

import pytest
from django.test import Client

from live.redis_client import get_redis

pytestmark = pytest.mark.django_db


def test_healthy_is_200_ok():
    """Both parts answering is 200 {"status": "ok"}."""
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def unreachable_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    get_redis.cache_clear()
    yield
    get_redis.cache_clear()


def test_dead_redis_is_503_naming_redis(unreachable_redis):
    """With Redis unreachable, /healthz is 503 and names redis."""
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["redis"]}


def test_healthz_is_never_throttled(monkeypatch):
    """Health checks are not counted against any rate."""
    from live import throttling

    monkeypatch.setattr(
        throttling.AnonRateThrottle, "THROTTLE_RATES", {"anon": "1/min"}
    )
    client = Client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]


class Planted:
    """Unpickling this writes a file: proof that something ran it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "unpickled"))


def test_healthz_unpickles_nothing_from_redis(settings, tmp_path):
    """Anyone who can write to the shared Redis cannot run code through /healthz."""
    proof = tmp_path / "proof"
    value = pickle.dumps(Planted(proof))
    prefix = settings.REDIS_KEY_PREFIX
    # Where Django's Redis cache looked for the health key (version 1).
    for key in (f"{prefix}:healthz", f"{prefix}:1:{prefix}:healthz"):
        get_redis().set(key, value)
    assert Client().get("/healthz").status_code == 200
    assert not proof.exists()


def test_health_answers_any_host_and_nothing_else_does(caplog):
    """A platform's health check by address gets its answer; any other path for
    a host not served is 400, logged as one WARNING line without a traceback."""
    assert Client().get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    caplog.clear()
    assert Client().get("/api/", HTTP_HOST="10.1.2.3").status_code == 400
    [record] = [r for r in caplog.records if r.name.startswith("django.security")]
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert "10.1.2.3" in record.getMessage()
