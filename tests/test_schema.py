"""The OpenAPI schema and its docs page."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


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
