"""`/api/asyncapi.json`, the WebSocket API derived from the OpenAPI schema: valid
AsyncAPI 3.0 (checked against the official JSON Schema, vendored in
tests/schemas/ from @asyncapi/specs), covering every OpenAPI operation and
nothing else; and `/api/playground/`, which sends them."""

import copy
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from snippets.models import Snippet
from tests.contract import (
    asyncapi_document,
    message_name,
    openapi_document,
    validate,
    validate_reply,
)

ASYNCAPI_SCHEMA = json.loads(
    (Path(__file__).parent.parent / "schemas" / "asyncapi-3.0.0.json").read_text()
)


PARSER = Path(__file__).parent.parent / "asyncapi" / "validate.mjs"


def official_parser(document: bytes) -> dict:
    """What `@asyncapi/parser` reports of `document`. It is slow (some 20 s of
    CPU for the served document): no timeout of its own, the suite's applies."""
    parsed = subprocess.run(["node", str(PARSER)], input=document, capture_output=True)
    assert parsed.returncode == 0, parsed.stderr.decode()
    return json.loads(parsed.stdout)


@pytest.mark.slow
def test_the_official_asyncapi_parser_reads_the_document_as_served():
    """`@asyncapi/parser` (what `asyncapi validate` runs) finds no error, and
    every message's payload has a name for code generators to use."""
    served = Client(HTTP_HOST="localhost").get("/api/asyncapi.json").content
    assert official_parser(served) == {"errors": [], "anonymous": [], "parsed": True}


@pytest.mark.slow
def test_the_official_parser_check_catches_an_invalid_document():
    """A relative `externalDocs.url`, as the document once had, is an error."""
    document = {
        "asyncapi": "3.0.0",
        "info": {"title": "t", "version": "1", "externalDocs": {"url": "/relative"}},
    }
    assert official_parser(json.dumps(document).encode())["errors"]


def errors(document):
    validator = jsonschema.Draft7Validator(ASYNCAPI_SCHEMA)
    return [error.message for error in validator.iter_errors(document)]


def test_the_document_is_valid_asyncapi_3():
    assert errors(asyncapi_document()) == []


def test_the_check_catches_an_invalid_document():
    document = copy.deepcopy(asyncapi_document())
    next(iter(document["operations"].values()))["action"] = "publish"  # AsyncAPI 2
    del document["info"]["version"]
    assert len(errors(document)) >= 2


def test_every_openapi_operation_appears_and_nothing_else():
    openapi = openapi_document()
    expected = set()
    for methods in openapi["paths"].values():
        for method, operation in methods.items():
            name = operation["operationId"]
            expected.add(name)
            if method == "get":
                expected.add(f"{name}_head")
            succeeds = [
                r.get("content", {})
                for status, r in operation["responses"].items()
                if status.startswith("2")
            ]
            if method == "get" and any("application/json" in c for c in succeeds):
                expected |= {
                    f"{name}_subscribe",
                    f"{name}_unsubscribe",
                    f"{name}_events",
                }
    expected |= {
        re.sub(r"\W+", "_", path).strip("_") + "_options" for path in openapi["paths"]
    }
    assert set(asyncapi_document()["operations"]) == expected
    assert "/api/asyncapi.json" not in openapi["paths"]
    assert "/api/playground/" not in openapi["paths"]


def test_both_documents_name_the_same_api_and_point_at_each_other():
    openapi, asyncapi = openapi_document(), asyncapi_document()
    assert asyncapi["info"]["title"] == openapi["info"]["title"]
    assert asyncapi["info"]["version"] == openapi["info"]["version"]
    assert asyncapi["info"]["externalDocs"]["url"] == "http://localhost/api/schema/"
    assert openapi["externalDocs"]["url"] == "/api/asyncapi.json"


def test_a_snippet_is_described_as_it_is():
    """An anonymous snippet's owner is null; a request body has no read-only
    fields; links are paths on this site."""
    schemas = asyncapi_document()["components"]["schemas"]
    snippet = schemas["Snippet"]["properties"]
    assert snippet["owner"]["type"] == ["string", "null"]
    assert snippet["url"]["format"] == "uri-reference"
    assert "owner" not in schemas["SnippetRequest"]["properties"]
    assert "private" in schemas["SnippetRequest"]["properties"]


@pytest.mark.django_db
def test_the_api_root_links_the_description_and_the_playground():
    client = Client()
    root = client.get("/api/", HTTP_ACCEPT="application/json").json()
    assert root["asyncapi"].endswith("/api/asyncapi.json")
    assert root["playground"].endswith("/api/playground/")
    page = client.get("/api/playground/")
    assert page.status_code == 200
    assert b"playground.js" in page.content


def test_requests_are_matched_to_their_operations_and_checked():
    assert message_name("GET", "/api/snippets/5/?format=json") == "snippets_retrieve"
    assert message_name("SUBSCRIBE", "/api/snippets/") == "snippets_list_subscribe"
    assert message_name("GET", "/healthz") is None
    reply = {"id": 1, "status": 200, "headers": {}, "data": {"id": "not a number"}}
    with pytest.raises(jsonschema.ValidationError):
        validate_reply("GET", "/api/snippets/5/", reply)


@pytest.mark.django_db
def test_each_reply_status_is_a_message_of_its_own_with_one_data_type():
    """A model generated from the document types a reply's `data` as one
    schema (not one chosen by status): a real list reply is the `200` message,
    whose `data` is the paginated list."""
    messages = asyncapi_document()["components"]["messages"]
    schemas = asyncapi_document()["components"]["schemas"]
    ok = schemas[messages["snippets_list_reply_200"]["title"]]
    assert ok["properties"]["status"] == {"const": 200}
    assert ok["properties"]["data"] == {
        "$ref": "#/components/schemas/PaginatedSnippetList"
    }
    assert "allOf" not in ok
    Snippet.objects.create(title="listed", code="1")
    page = Client(HTTP_HOST="localhost").get("/api/snippets/").json()
    reply = {"id": 1, "status": 200, "method": "GET", "headers": {}, "data": page}
    validate("snippets_list_reply_200", reply)
    assert {"snippets_list_reply_401", "snippets_list_reply_other"} <= set(messages)
