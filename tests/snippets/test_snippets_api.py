"""The snippets endpoints over HTTP: shapes, statuses and validation."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from live import recorded
from live.testing import new_user
from live.views import recorded_fields
from snippets.models import Snippet

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


def test_api_root_lists_snippets_and_users(client):
    """GET /api/ links to the snippets and users lists, the WebSocket API's
    description and its playground."""
    response = client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert set(response.json()) == {"snippets", "users", "asyncapi", "playground"}


def test_api_root_is_browsable_in_a_browser(client):
    """A browser asking for HTML gets the browsable API."""
    response = client.get("/api/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Api Root" in response.content


def test_anyone_can_create_a_snippet_without_an_owner(client):
    """An anonymous POST creates a snippet with no owner and answers 201."""
    response = client.post(
        "/api/snippets/", {"title": "hi", "code": "print(1)"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["owner"] is None
    assert body["url"] == f"/api/snippets/{body['id']}/"
    assert response["Location"] == body["url"]
    assert body["highlight"] == f"/api/snippets/{body['id']}/highlight/"
    assert (body["language"], body["style"], body["linenos"]) == (
        "python",
        "friendly",
        False,
    )


def test_list_is_paginated_newest_first(client):
    """Lists come as {count, next, previous, results}, newest first, 10 a page."""
    for number in range(12):
        Snippet.objects.create(title=f"s{number}", code="1")
    first = client.get("/api/snippets/").json()
    assert first["count"] == 12
    assert first["previous"] is None
    assert [s["title"] for s in first["results"]] == [f"s{n}" for n in range(11, 1, -1)]
    second = client.get(first["next"]).json()
    assert [s["title"] for s in second["results"]] == ["s1", "s0"]


def test_retrieve_shows_one_snippet(client):
    """GET /api/snippets/{id}/ shows the snippet."""
    snippet = Snippet.objects.create(title="one", code="x = 1")
    response = client.get(f"/api/snippets/{snippet.pk}/")
    assert response.status_code == 200
    assert response.json()["code"] == "x = 1"


def test_unknown_snippet_is_404(client):
    """A snippet that does not exist is 404 with a detail."""
    response = client.get("/api/snippets/999999/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_highlight_returns_the_highlighted_html_page(client):
    """The highlight endpoint returns Pygments' HTML page for the code."""
    snippet = Snippet.objects.create(title="t", code="def f(): pass", linenos=True)
    response = client.get(f"/api/snippets/{snippet.pk}/highlight/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'<span class="k">def</span>' in response.content
    assert b"linenos" in response.content


def test_highlight_escapes_the_title(client):
    """Markup in a title is escaped on the highlight page, never live script."""
    snippet = Snippet.objects.create(title="<script>alert(1)</script>", code="1")
    page = client.get(f"/api/snippets/{snippet.pk}/highlight/").content.decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_highlight_page_may_not_run_scripts(client):
    """The highlight page carries a Content-Security-Policy allowing no script."""
    snippet = Snippet.objects.create(title="t", code="1")
    response = client.get(f"/api/snippets/{snippet.pk}/highlight/")
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    "data, field",
    [
        ({"code": "1"}, "title"),
        ({"title": "x" * 101, "code": "1"}, "title"),
        ({"title": "t"}, "code"),
        ({"title": "t", "code": "1", "language": "no-such-lexer"}, "language"),
        ({"title": "t", "code": "1", "style": "no-such-style"}, "style"),
    ],
)
def test_invalid_snippet_is_400_naming_the_field(client, data, field):
    """Missing or invalid fields are 400 with a message under the field's name."""
    response = client.post("/api/snippets/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_code_over_the_size_limit_is_400(client, settings):
    """Code over SNIPPET_MAX_CODE_BYTES is refused with a 400."""
    settings.SNIPPET_MAX_CODE_BYTES = 1000
    response = client.post(
        "/api/snippets/", {"title": "t", "code": "é" * 501}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == ["Ensure this field has no more than 1000 bytes."]


def test_every_pygments_language_and_style_is_offered(client):
    """OPTIONS lists every Pygments lexer and style as choices."""
    from pygments.lexers import get_all_lexers
    from pygments.styles import get_all_styles

    actions = client.options("/api/snippets/").json()["actions"]["POST"]
    languages = {choice["value"] for choice in actions["language"]["choices"]}
    styles = {choice["value"] for choice in actions["style"]["choices"]}
    assert len(languages) == len([lexer for lexer in get_all_lexers() if lexer[1]])
    assert styles == set(get_all_styles())


def test_signed_in_creator_owns_the_snippet(client):
    """A signed-in user's snippet is theirs."""
    user = User.objects.create_user("alice", password="pw")
    client.force_authenticate(user)
    response = client.post("/api/snippets/", {"title": "t", "code": "1"}, format="json")
    assert response.json()["owner"] == "alice"


def test_owner_can_update_and_delete(client):
    """The owner may PUT, PATCH and DELETE their snippet."""
    user = User.objects.create_user("alice", password="pw")
    snippet = Snippet.objects.create(title="t", code="1", owner=user)
    client.force_authenticate(user)
    url = f"/api/snippets/{snippet.pk}/"
    put = client.put(url, {"title": "new", "code": "2"}, format="json")
    assert put.status_code == 200
    assert put.json()["title"] == "new"
    patch = client.patch(url, {"linenos": True}, format="json")
    assert patch.json()["linenos"] is True
    assert client.delete(url).status_code == 204
    assert not Snippet.objects.exists()


def test_snippets_are_created_in_time_order_index():
    """`created` is indexed: every list sorts on it."""
    field = Snippet._meta.get_field("created")
    assert field.db_index


@pytest.mark.parametrize("url", ["/api/snippets/", "/api/snippets/{pk}/"])
def test_list_and_detail_never_load_the_highlighted_page(client, url):
    """The highlighted page, many times the code, is read only to be shown."""
    snippet = Snippet.objects.create(title="t", code="x = 1")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url.format(pk=snippet.pk)).status_code == 200
    assert not any('"highlighted"' in query["sql"] for query in queries)
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/api/snippets/{snippet.pk}/highlight/")
    assert any('"highlighted"' in query["sql"] for query in queries)


@pytest.mark.parametrize(
    ("field", "value"),
    [("code", 0), ("title", 5), ("private", 0), ("linenos", "false")],
)
def test_a_json_body_gives_each_field_its_json_type(client, field, value):
    """A string is a string and a boolean a boolean, as the document says:
    DRF would have turned `0` into `"0"` and `"false"` into `False`."""
    body = {"title": "t", "code": "1", field: value}
    response = client.post("/api/snippets/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_form_of_the_browsable_api_still_sends_strings(client):
    """An HTML form's values are all strings: they are read as before."""
    form = {"title": "t", "code": "1", "linenos": "true"}
    response = client.post("/api/snippets/", form)
    assert response.status_code == 201
    assert response.json()["linenos"] is True


@pytest.mark.parametrize("page", ["x", "", "1&page=2", "0", "99"])
def test_a_page_that_is_not_one_page_number_is_404(client, page):
    """Not quietly the first page: 404 "Invalid page.", as past the last."""
    response = client.get(f"/api/snippets/?page={page}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_unknown_api_paths_and_a_missing_highlight_page_answer_json(client):
    """Every API error is JSON, the highlight page's too."""
    for path in ["/api/nothing-here/", "/api/snippets/x,y/highlight/"]:
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_options_on_a_snippet_says_what_its_owner_may_do(client):
    """OPTIONS asks DRF what a PUT could take: no row lock outside a transaction
    (PostgreSQL refused it, a 500 Schemathesis found)."""
    owner = User.objects.create_user("owner")
    snippet = Snippet.objects.create(title="t", code="1", owner=owner)
    client.force_authenticate(owner)
    response = client.options(f"/api/snippets/{snippet.pk}/")
    assert response.status_code == 200
    assert "PUT" in response.json()["actions"]


@pytest.fixture
def assorted():
    """Snippets to filter: two owners, two languages, one private."""
    alice, bob = new_user("alice"), new_user("bob")
    made = [
        Snippet.objects.create(title="sort a list", code="1", owner=alice),
        Snippet.objects.create(title="Sorting", code="1", language="ruby", owner=bob),
        Snippet.objects.create(
            title="secret sort", code="1", owner=alice, private=True
        ),
        Snippet.objects.create(title="hello", code="1", language="ruby"),
    ]
    return alice, bob, made


def titles(client, query):
    response = client.get("/api/snippets/", query)
    assert response.status_code == 200, response.json()
    return sorted(item["title"] for item in response.json()["results"])


def test_the_list_filters_by_language_owner_and_title_words(client, assorted):
    alice, bob, _ = assorted
    assert titles(client, {"language": "ruby"}) == ["Sorting", "hello"]
    assert titles(client, {"owner": alice.username}) == ["sort a list"]
    assert titles(client, {"search": "sort"}) == ["Sorting", "sort a list"]
    assert titles(client, {"search": "sort", "language": "python"}) == ["sort a list"]
    assert titles(client, {"owner": "nobody-at-all"}) == []
    assert client.get("/api/snippets/", {"search": "a\x00"}).json() == {
        "search": ["Null characters are not allowed."]
    }


def test_private_narrows_what_the_requester_may_see(client, assorted):
    alice, bob, _ = assorted
    assert titles(client, {"private": "true"}) == []  # anonymous: none of them
    client.force_authenticate(alice)
    assert titles(client, {"private": "true"}) == ["secret sort"]
    assert "secret sort" not in titles(client, {"private": "false"})
    client.force_authenticate(bob)
    assert titles(client, {"private": "true", "owner": alice.username}) == []


@pytest.mark.parametrize(
    "query, parameter",
    [({"language": "nope"}, "language"), ({"private": "maybe"}, "private")],
)
def test_a_filter_value_it_cannot_take_is_400_naming_the_parameter(
    client, query, parameter
):
    response = client.get("/api/snippets/", query)
    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_the_filters_are_in_the_openapi_document(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    parameters = schema["paths"]["/api/snippets/"]["get"]["parameters"]
    names = {p["name"] for p in parameters}
    assert {"language", "owner", "private", "search", "page"} <= names
    language = next(p for p in parameters if p["name"] == "language")
    assert "python" in language["schema"]["enum"]


def test_a_filter_is_tested_on_recorded_values_or_says_it_cannot(assorted):
    """What a change records (every column but long texts) is enough for the
    snippet filters; a condition on the code is unknown, never guessed."""
    alice, _bob, made = assorted
    fields = recorded_fields(Snippet)
    before = {f.attname: getattr(made[0], f.attname) for f in fields}
    rows = Snippet.objects.all()
    assert recorded.matches(rows.filter(owner__username=alice.username), before, fields)
    assert not recorded.matches(rows.filter(language="ruby"), before, fields)
    assert recorded.matches(rows.filter(title__icontains="SORT"), before, fields)
    made[0].delete()  # the record is all there is of it now
    assert recorded.matches(rows.filter(private=False), before, fields)
    with pytest.raises(recorded.Unknown):
        recorded.matches(rows.filter(code__contains="1"), before, fields)
