"""The OpenAPI schema and its docs page."""

import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import sign_up_token

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


def openapi():
    client = Client()
    return client.get("/api/schema/?format=json").json()


def test_signing_in_is_described_with_the_tokens_it_answers():
    """A generated client types the sign-in reply: `access` and `refresh`."""
    document = openapi()
    ok = document["paths"]["/api/auth/token/"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][ref]["properties"]) == {
        "access",
        "refresh",
    }


def test_the_highlight_page_is_described_as_html_and_cannot_be_subscribed():
    """The highlight page answers HTML, not a snippet; so the AsyncAPI document
    offers no SUBSCRIBE on it (the server refuses one)."""
    ok = openapi()["paths"]["/api/snippets/{id}/highlight/"]["get"]["responses"]
    assert list(ok["200"]["content"]) == ["text/html"]
    asyncapi = Client().get("/api/asyncapi.json").json()
    subscribable = [
        name
        for name in asyncapi["operations"]
        if "highlight" in name and "subscribe" in name
    ]
    assert subscribable == []


CONFIG = Path(__file__).parent.parent / "schemathesis.toml"


@pytest.fixture(scope="module")
def fuzzed_server(server_factory):
    """A server of its own: Schemathesis makes hundreds of rows and users."""
    return server_factory(REDIS_KEY_PREFIX=f"test:schemathesis:{uuid.uuid4().hex}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_the_api_answers_as_its_openapi_document_says(
    fuzzed_server, signed_in, tmp_path
):
    """Schemathesis, every check on, every phase (stateful where the document's
    links allow), a bounded number of cases, anonymously and with a token: no
    failure. The false positives it would report are justified in
    tests/schemathesis.toml."""
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(CONFIG), "--no-color",
        "run", f"{fuzzed_server.url}/api/schema/?format=json",
        "--max-examples", "10", "--seed", "20261204",
    ]  # fmt: skip
    if signed_in:
        token = sign_up_token(fuzzed_server)
        command += ["--header", f"Authorization: Bearer {token}"]
    # (In a folder of its own: Schemathesis keeps a cache where it runs.)
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-6000:]


def test_the_document_says_who_may_call_without_credentials_and_what_fails():
    """Anonymous access is stated where it works; every operation documents
    401 and 429, a body 400, a path parameter 404."""
    schema = Client().get("/api/schema/?format=json").json()
    snippets, snippet = (
        schema["paths"]["/api/snippets/"],
        schema["paths"]["/api/snippets/{id}/"],
    )
    assert {} in snippets["get"]["security"] and {} in snippets["post"]["security"]
    assert {} not in snippet["put"]["security"]
    for operation in (snippets["get"], snippets["post"], snippet["delete"]):
        assert {"401", "429"} <= set(operation["responses"])
    assert {"400", "403"} <= set(snippets["post"]["responses"])
    assert "404" in snippet["get"]["responses"]
    assert list(snippets["post"]["requestBody"]["content"]) == ["application/json"]


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory):
    """A Python client generated from the served document by
    openapi-python-client, importable as `snippets_api_client`."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "schema.json").write_text(
        Client().get("/api/schema/?format=json").content.decode()
    )
    generate = subprocess.run(
        [
            Path(sys.executable).parent / "openapi-python-client",
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            "snippets_api_client",
            "--fail-on-warning",
        ],
        cwd=folder,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    sys.path.insert(0, str(folder))
    yield __import__("snippets_api_client.models").models
    sys.path.remove(str(folder))


def test_a_generated_client_types_the_sign_in_reply(generated_client):
    """The sign-in reply loads into the generated `TokenPair`, both tokens typed."""
    from django.contrib.auth.models import User

    User.objects.create_user("generated", password="a-long-unusual-passphrase")
    reply = Client().post(
        "/api/auth/token/",
        {"username": "generated", "password": "a-long-unusual-passphrase"},
        content_type="application/json",
    )
    pair = generated_client.TokenPair.from_dict(reply.json())
    assert isinstance(pair.access, str) and isinstance(pair.refresh, str)


def test_a_generated_client_loads_a_real_list(generated_client):
    """A real page of snippets loads into the generated models, field for field."""
    from snippets.models import Snippet

    Snippet.objects.create(title="generated", code="print(1)")
    page = Client().get("/api/snippets/").json()
    loaded = generated_client.PaginatedSnippetList.from_dict(page)
    assert loaded.count == 1
    assert loaded.results[0].title == "generated"
    snippet, as_loaded = page["results"][0], loaded.results[0].to_dict()
    created = datetime.fromisoformat(snippet.pop("created"))
    assert datetime.fromisoformat(as_loaded.pop("created")) == created
    assert as_loaded == snippet


def test_the_input_rules_the_api_enforces_are_in_the_document():
    """No NUL character in a string, no blank title, an 8-character password,
    and the username's character set (in words: Django reads `\\w` as any
    script's letters, a JSON Schema pattern only ASCII ones)."""
    schemas = openapi()["components"]["schemas"]
    title = schemas["SnippetRequest"]["properties"]["title"]
    assert re.fullmatch(title["pattern"], "a title")
    assert not re.fullmatch(title["pattern"], "   ")
    assert not re.fullmatch(title["pattern"], "a\x00b")
    user = schemas["UserRequest"]["properties"]
    assert user["password"]["minLength"] == 8
    assert "any script" in user["username"]["description"]
