"""/healthz: 200 when the database and Redis answer, 503 naming what does not."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthy_is_200_ok():
    """Both parts answering is 200 {"status": "ok"}."""
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_dead_redis_is_503_naming_redis(settings):
    """With Redis unreachable, /healthz is 503 and names redis."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failing": ["redis"]}


def test_healthz_is_never_throttled(monkeypatch):
    """Health checks are not counted against any rate."""
    from snippets import throttling

    monkeypatch.setattr(
        throttling.AnonRateThrottle, "THROTTLE_RATES", {"anon": "1/min"}
    )
    client = Client()
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]


def test_demo_page_is_served_at_the_root():
    """GET / is the demo page, told where the WebSocket is."""
    response = Client().get("/")
    assert response.status_code == 200
    assert b'data-websocket-url=""' in response.content


def test_openapi_schema_and_docs_are_served_without_a_cdn():
    """The schema is OpenAPI 3 and the docs page loads only local assets."""
    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/snippets/{id}/highlight/" in schema.json()["paths"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()
    assert "https://" not in docs


def test_admin_login_page_is_served():
    """/admin/ asks a visitor to sign in."""
    response = Client().get("/admin/", follow=True)
    assert response.status_code == 200
    assert b"Log in" in response.content
