"""The demo page in a real browser (Debian's Chromium driven by Playwright)."""

import json
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import (
    PASSWORD,
    port_to_reuse,
    sign_up_token,
)
from tests.snippets.demo_page import create, edit, snippet_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<img src=x onerror="window.__xss = 1">'


def assert_no_script_ran(page):
    assert page.evaluate("window.__xss") is None


def test_page_connects_over_websocket(web_server, open_page):
    """The status line names the transport in use: WebSocket."""
    page = open_page(web_server)
    expect(page.get_by_role("status")).to_contain_text("WebSocket")


def test_page_states_the_erase_lifetime(web_server, open_page):
    """The erase notice gives the lifetime from SNIPPET_TTL_SECONDS (600 s)."""
    page = open_page(web_server)
    expect(page.locator("#erase-notice")).to_contain_text("erased after 10 minutes")


def test_created_snippet_appears_here_and_live_elsewhere(web_server, open_page):
    """A snippet created on one page shows up in another without a reload."""
    watcher = open_page(web_server)
    expect(watcher.get_by_role("status")).to_contain_text("WebSocket")
    author = open_page(web_server)
    expect(author.get_by_role("status")).to_contain_text("WebSocket")
    title = f"live {uuid.uuid4().hex[:6]}"
    create(author, title)
    expect(snippet_item(author, title)).to_be_visible()
    expect(snippet_item(watcher, title)).to_be_visible()


def test_preview_shows_highlighted_code(web_server, open_page):
    """Clicking a title shows Pygments' highlighted page in the sandboxed frame."""
    page = open_page(web_server)
    title = f"preview {uuid.uuid4().hex[:6]}"
    create(page, title)
    snippet_item(page, title).get_by_role("button", name=title).click()
    frame = page.frame_locator("#preview")
    expect(frame.locator("span.k", has_text="def")).to_be_visible()
    assert page.locator("#preview").get_attribute("sandbox") == ""


def test_markup_in_a_snippet_never_runs(web_server, open_page):
    """A title or code with markup is shown as text in the list, live, and preview."""
    watcher = open_page(web_server)
    expect(watcher.get_by_role("status")).to_contain_text("WebSocket")
    author = open_page(web_server)
    create(author, XSS, code=XSS)
    for page in (author, watcher):
        item = snippet_item(page, XSS)
        expect(item).to_be_visible()
        item.get_by_role("button", name=XSS).click()
        expect(page.frame_locator("#preview").locator("body")).to_contain_text(XSS)
        page.wait_for_timeout(300)  # let any injected handler have its chance
        assert_no_script_ran(page)
        assert page.locator("#snippets img").count() == 0


def test_validation_errors_are_shown_next_to_their_fields(web_server, open_page):
    """A 400 shows each message beside the field it concerns."""
    page = open_page(web_server)
    page.get_by_label("Code").fill("x = 1")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#title-error")).to_contain_text("may not be blank")


def test_without_websocket_the_page_lives_on_server_sent_events(
    server_factory, open_page
):
    """With no WebSocket to be had, requests go over HTTP and the list stays live
    over Server-Sent Events: a change made elsewhere still shows."""
    server = server_factory(WEBSOCKET_URL="ws://127.0.0.1:9/ws/api")
    page = open_page(server)
    expect(page.get_by_role("status")).to_contain_text("Server-Sent Events")
    title = f"over http {uuid.uuid4().hex[:6]}"
    create(page, title)
    expect(snippet_item(page, title)).to_be_visible()
    expect(page.locator("#log")).to_contain_text("POST /api/snippets/ → 201")
    expect(page.locator("#log")).to_contain_text("over HTTP")
    elsewhere = f"made elsewhere {uuid.uuid4().hex[:6]}"
    requests.post(f"{server.url}/api/snippets/", json={"title": elsewhere, "code": "1"})
    expect(snippet_item(page, elsewhere)).to_be_visible()


def test_page_reconnects_and_resubscribes_after_a_restart(
    server_factory, open_page, tmp_path_factory
):
    """After the server restarts, the page reconnects, resumes from its last
    position without a new snapshot, and hears what changed meanwhile."""
    prefix = f"test:restart:{uuid.uuid4().hex}"
    first = server_factory(port=port_to_reuse(), REDIS_KEY_PREFIX=prefix)
    page = open_page(first)
    # Subscribed over the socket (so with a position) before the server goes.
    subscribed = "SUBSCRIBE /api/snippets/ → 200 in"
    expect(page.locator("#log li", has_text=subscribed)).to_contain_text("WebSocket")
    first.stop()
    expect(page.get_by_role("status")).to_contain_text("HTTP")
    second = server_factory(port=first.port, REDIS_KEY_PREFIX=prefix)
    # Made while the page is away, so only a resumed subscription brings it.
    away = f"while away {uuid.uuid4().hex[:6]}"
    requests.post(f"{second.url}/api/snippets/", json={"title": away, "code": "1"})
    expect(page.get_by_role("status")).to_contain_text("WebSocket")
    expect(page.locator("#log")).to_contain_text("resumed without a snapshot")
    expect(snippet_item(page, away)).to_be_visible()
    title = f"after restart {uuid.uuid4().hex[:6]}"
    requests.post(f"{second.url}/api/snippets/", json={"title": title, "code": "1"})
    expect(snippet_item(page, title)).to_be_visible()


def test_sign_up_sign_in_create_shown_as_yours_then_delete(web_server, open_page):
    """A signed-in author's snippet is marked as theirs and they can delete it."""
    page = open_page(web_server)
    username = f"user{uuid.uuid4().hex[:8]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#signed-in")).to_contain_text(username)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in")).to_contain_text(username)
    title = f"mine {uuid.uuid4().hex[:6]}"
    create(page, title)
    item = snippet_item(page, title)
    expect(item.locator(".badge")).to_have_text(["yours"])
    item.get_by_role("button", name=f"Delete {title}").click()
    expect(item).to_have_count(0)


def sign_up(page):
    username = f"user{uuid.uuid4().hex[:8]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("#signed-in")).to_contain_text(username)
    return username


def test_a_private_snippet_is_never_shown_to_another_user(web_server, open_page):
    """Marked private for its owner; absent for another user, live and on
    reload; made public it appears live, made private again it leaves."""
    owner, other = open_page(web_server), open_page(web_server)
    sign_up(owner)
    sign_up(other)
    secret = f"secret {uuid.uuid4().hex[:6]}"
    owner.get_by_label("Private").check()
    create(owner, secret)
    item = snippet_item(owner, secret)
    expect(item.locator(".badge")).to_have_text(["private", "yours"])
    public = f"public {uuid.uuid4().hex[:6]}"
    create(owner, public)  # heard after the private one, had it been sent
    expect(snippet_item(other, public)).to_be_visible()
    expect(snippet_item(other, secret)).to_have_count(0)
    other.reload()
    expect(snippet_item(other, public)).to_be_visible()
    expect(snippet_item(other, secret)).to_have_count(0)
    edit(owner, secret)
    owner.get_by_label("Private").uncheck()
    owner.get_by_role("button", name="Save changes").click()
    expect(snippet_item(other, secret)).to_be_visible()
    expect(snippet_item(other, secret).locator(".badge")).to_have_count(0)
    edit(owner, secret)
    owner.get_by_label("Private").check()
    owner.get_by_role("button", name="Save changes").click()
    expect(snippet_item(other, secret)).to_have_count(0)


def test_the_page_renews_its_live_list_as_its_token_expires(server_factory, open_page):
    """Tokens that last two seconds: the server ends the subscription, the page
    gets a new token and resumes from its position, without a snapshot, and
    hears what changed meanwhile and after."""
    server = server_factory(ACCESS_TOKEN_LIFETIME_SECONDS=2, WS_TOKEN_GRACE_SECONDS=0)
    page = open_page(server)
    sign_up(page)
    expect(page.locator("#log")).to_contain_text("Live updates paused")
    expect(page.locator("#log")).to_contain_text("resumed without a snapshot")
    title = f"after renewal {uuid.uuid4().hex[:6]}"
    requests.post(f"{server.url}/api/snippets/", json={"title": title, "code": "1"})
    expect(snippet_item(page, title)).to_be_visible()


def test_signing_out_ends_the_private_view_and_keeps_the_list_live(
    web_server, open_page
):
    page = open_page(web_server)
    sign_up(page)
    secret = f"secret {uuid.uuid4().hex[:6]}"
    page.get_by_label("Private").check()
    create(page, secret)
    expect(snippet_item(page, secret)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(snippet_item(page, secret)).to_have_count(0)
    title = f"after sign-out {uuid.uuid4().hex[:6]}"
    requests.post(f"{web_server.url}/api/snippets/", json={"title": title, "code": "1"})
    expect(snippet_item(page, title)).to_be_visible()


def test_anonymous_visitors_cannot_mark_a_snippet_private(web_server, open_page):
    page = open_page(web_server)
    expect(page.get_by_label("Private")).to_be_disabled()


def test_the_playground_sends_an_operation_and_shows_its_reply_and_events(
    web_server, open_page
):
    """Operations listed from /api/asyncapi.json, a form from the message
    schema, the reply shown; a subscription shows live events."""
    page = open_page(web_server)
    page.goto(web_server.url + "/api/playground/")
    page.get_by_label("Operation", exact=True).select_option("snippets_list_subscribe")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#reply")).to_contain_text('"status": 200')
    page.get_by_label("Operation", exact=True).select_option("snippets_create")
    expect(page.get_by_label("language", exact=True)).to_have_value(
        "python"
    )  # its default
    title = f"played {uuid.uuid4().hex[:6]}"
    page.get_by_label("title", exact=True).fill(title)
    page.get_by_label("code", exact=True).fill("print('hi')")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#reply")).to_contain_text('"status": 201')
    expect(page.locator("#reply")).to_contain_text(title)
    expect(page.locator("#events")).to_contain_text("created")
    expect(page.locator("#events")).to_contain_text(title)


def test_page_is_usable_on_a_phone(web_server, open_page):
    """At phone width nothing overflows sideways."""
    page = open_page(web_server, width=390)
    expect(page.get_by_role("status")).to_contain_text("WebSocket")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_rate_limited_request_says_when_to_retry(server_factory, open_page):
    """A 429 is shown to the person with the number of seconds to wait."""
    server = server_factory(ANON_THROTTLE_RATE="5/min")
    page = open_page(server)
    expect(page.get_by_role("status")).to_contain_text("WebSocket")
    posts = page.locator("#log li", has_text="POST /api/snippets/")
    for number in range(4):
        create(page, f"spam {number}")
        # One at a time: a success answered later would clear the alert.
        expect(posts).to_have_count(number + 1)
    expect(page.get_by_role("alert")).to_contain_text("Too many requests")
    expect(page.get_by_role("alert")).to_contain_text("retry in")


CLIENT_RULES = """async () => {
  const client = await import("/static/live/client.js");
  const pairs = %s;
  return {
    hears: pairs.map(([subscribed, url]) => client.hears(subscribed, url)),
    isJson: %s.map(client.isJson),
    queryMethods: client.QUERY_METHODS,
  };
}"""
EVENT_URL_CASES = [
    ("/api/snippets/", "/api/snippets/12/"),
    ("/api/snippets/1", "/api/snippets/12/"),
    ("/api/snippets/12", "/api/snippets/12/"),
    ("/api/snippets/12/?page=2", "/api/snippets/12/"),
    ("/api/users/", "/api/snippets/12/"),
    ("/", "/api/snippets/12/"),
    # Percent-encoded, as the server routes them: decoded.
    ("/api/snippets/%31/", "/api/snippets/1/"),
    ("/api/snippets/%31", "/api/snippets/12/"),
    ("/api/%73nippets/", "/api/snippets/12/"),
    ("/api/snippets/%E2%82%AC/", "/api/snippets/\u20ac/"),
    ("/api/snippets/%e2%82/", "/api/snippets/\ufffd/"),
    ("/api/snippets/%zz/", "/api/snippets/%zz/"),
]
CONTENT_TYPES = [
    "application/json",
    "application/problem+json; charset=utf-8",
    "Application/JSON",
    "text/html; charset=utf-8",
    "",
]


def test_browser_client_follows_the_servers_rules(web_server, open_page):
    """Event URL matching, the JSON body rule and the query methods are the same
    in live/static/live/client.js as in wsserver/."""
    from wsserver.bridge import is_json
    from wsserver.protocol import QUERY_METHODS
    from wsserver.subscriptions import ancestor_paths, subscription_path

    page = open_page(web_server)
    rules = page.evaluate(
        CLIENT_RULES % (json.dumps(EVENT_URL_CASES), json.dumps(CONTENT_TYPES))
    )
    assert rules["hears"] == [
        subscription_path(subscribed) in ancestor_paths(url)
        for subscribed, url in EVENT_URL_CASES
    ]
    assert rules["isJson"] == [is_json(content_type) for content_type in CONTENT_TYPES]
    assert set(rules["queryMethods"]) == QUERY_METHODS


SAME_HEADERS = """async () => {
  const { LiveClient } = await import("/static/live/client.js");
  const client = new LiveClient({});
  while (!client.open) await new Promise((resolve) => setTimeout(resolve, 50));
  const overSocket = await client.request({ url: "/api/" });
  const overHttp = await client.overHttp({ method: "GET", url: "/api/" });
  return [Object.keys(overSocket.headers).sort(), Object.keys(overHttp.headers).sort()];
}"""


def test_replies_have_the_same_header_names_over_both_transports(web_server, open_page):
    """The browser client gives header names in lower case whichever transport
    carried the reply, as fetch() does."""
    page = open_page(web_server)
    over_socket, over_http = page.evaluate(SAME_HEADERS)
    assert "content-type" in over_socket
    assert all(name == name.lower() for name in over_socket)
    assert set(over_socket) <= set(over_http)


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/api/playground/"])
def test_a_page_loads_with_nothing_missing(web_server, browser, path):
    """Every request a page makes as it loads succeeds: its favicon too."""
    context = browser.new_context()
    page = context.new_page()
    failed = []
    page.on(
        "response",
        lambda response: response.status >= 400 and failed.append(response.url),
    )
    page.goto(web_server.url + path)
    page.wait_for_load_state("networkidle")
    context.close()
    assert failed == []


def test_the_filtered_list_keeps_itself_right_as_others_edit(web_server, open_page):
    """Filtered by title words and language, the list takes a snippet in as
    someone else edits it into the filter and lets it go as it is edited out."""
    page = open_page(web_server)
    word = f"w{uuid.uuid4().hex[:8]}"
    page.get_by_label("Words").fill(word)
    page.get_by_label("Written in").select_option("ruby")
    expect(page.locator("#list-heading")).to_have_text("Matching snippets")
    expect(page.locator("#log")).to_contain_text("language=ruby")
    other = Author(web_server)
    moving = other.post(title=f"{word} one")  # python: not shown
    other.post(title=f"{word} two", language="ruby")
    expect(snippet_item(page, f"{word} two")).to_be_visible()
    expect(snippet_item(page, f"{word} one")).to_have_count(0)
    other.patch(moving, language="ruby")
    expect(snippet_item(page, f"{word} one")).to_be_visible()
    other.patch(moving, title="renamed")
    expect(snippet_item(page, "renamed")).to_have_count(0)
    expect(page.locator("#snippets li")).to_have_count(1)


def test_an_edit_of_a_snippet_changed_meanwhile_reports_a_conflict(
    web_server, open_page
):
    """Another save after the edit began: the page says so, and saving does not
    overwrite it (412)."""
    page = open_page(web_server)
    author = Author(web_server, sign_up(page))
    title = f"mine {uuid.uuid4().hex[:6]}"
    create(page, title)
    edit(page, title)
    url = snippet_item(page, title).get_attribute("data-url")
    author.patch(url, code="changed elsewhere")  # the same author, elsewhere
    expect(page.locator("#edit-notice")).to_contain_text("Someone else changed")
    page.get_by_label("Title").fill("my version")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#edit-notice")).to_contain_text("Not saved")
    expect(page.locator("#log")).to_contain_text(f"PUT {url} → 412")
    kept = requests.get(web_server.url + url).json()
    assert (kept["title"], kept["code"]) == (title, "changed elsewhere")


class Author:
    """Someone else at work on the server over HTTP: a new user, or `username`."""

    def __init__(self, server, username=None):
        self.server = server
        if username is None:
            token = sign_up_token(server)
        else:
            credentials = {"username": username, "password": PASSWORD}
            signed_in = requests.post(f"{server.url}/api/auth/token/", json=credentials)
            token = signed_in.json()["access"]
        self.headers = {"Authorization": f"JWT {token}"}

    def post(self, **fields):
        response = requests.post(
            f"{self.server.url}/api/snippets/",
            json={"code": "1", **fields},
            headers=self.headers,
        )
        assert response.status_code == 201, response.text
        return response.json()["url"]

    def patch(self, url, **fields):
        response = requests.patch(
            self.server.url + url, json=fields, headers=self.headers
        )
        assert response.status_code == 200, response.text
