"""The JSON body parser over HTTP: depth-limited, strict, and clear about errors."""

import json

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def test_json_body_nested_50000_deep_is_400_not_500(client):
    """An absurdly deep JSON body is a 400, not a RecursionError 500."""
    body = "[" * 50_000 + "]" * 50_000
    response = client.generic(
        "POST", "/api/snippets/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than 32" in response.json()["detail"]


def test_json_depth_limit_is_exact(client, settings):
    """32 levels of nesting parse; 33 are refused."""

    def nested(depth):
        return (
            '{"title": "t", "code": "1", "x": '
            + "[" * (depth - 1)
            + "]" * (depth - 1)
            + "}"
        )

    ok = client.generic(
        "POST", "/api/snippets/", nested(32), content_type="application/json"
    )
    too_deep = client.generic(
        "POST", "/api/snippets/", nested(33), content_type="application/json"
    )
    assert ok.status_code == 201
    assert too_deep.status_code == 400


def test_malformed_json_is_400(client):
    """A body that is not JSON is a 400 naming the parse error."""
    response = client.generic(
        "POST", "/api/snippets/", "{nope", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


@pytest.mark.parametrize(
    "body, detail",
    [
        ('{"title": NaN, "code": "1"}', "NaN is not JSON"),
        ('{"title": "t", "code": "1", "x": Infinity}', "Infinity is not JSON"),
        ('{"title": "t", "code": "1", "x": -Infinity}', "-Infinity is not JSON"),
        ('{"title": "t", "code": "1", "x": 1e999}', "out of range"),
        ('{"title": "a", "title": "b", "code": "1"}', "duplicate keys"),
    ],
)
def test_json_that_is_not_json_is_400(client, body, detail):
    """NaN, Infinity, numbers out of range and duplicate keys are refused."""
    response = client.generic(
        "POST", "/api/snippets/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_body_over_the_limit_is_413_and_read_no_further(client, settings):
    """A body over REQUEST_MAX_BYTES is refused whole; the parser stops reading."""
    settings.REQUEST_MAX_BYTES = 1000
    body = '{"title": "t", "code": "' + "x" * 2000 + '"}'
    response = client.generic(
        "POST", "/api/snippets/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1000 bytes."}


def test_largest_legal_snippet_fits_under_the_limit(client, settings):
    """SNIPPET_MAX_CODE_BYTES of code, every byte escaped, is within the limit."""
    code = "\x01" * settings.SNIPPET_MAX_CODE_BYTES
    body = json.dumps({"title": "t", "code": code, "language": "text"})
    assert len(body) <= settings.REQUEST_MAX_BYTES
    response = client.generic(
        "POST", "/api/snippets/", body, content_type="application/json"
    )
    assert response.status_code == 201
