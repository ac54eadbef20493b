"""The seed's own architecture, in Chromium: the demo page served from another
origin (a plain static file server started here) against the API, listed in
`ALLOWED_ORIGINS`: requests and live updates over WebSocket; with the socket
blocked, over HTTP and Server-Sent Events, statuses and `Retry-After` readable;
and a page from an origin not listed refused on both transports."""

import re
import shutil
import subprocess
import sys
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import PROJECT_DIR, free_port, wait_until
from tests.snippets.demo_page import create, snippet_item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def front_port():
    return free_port()


@pytest.fixture(scope="module")
def api(server_factory, front_port):
    return server_factory(
        ALLOWED_ORIGINS=f"http://127.0.0.1:{front_port}", ANON_THROTTLE_RATE="15/min"
    )


def serve_frontend(api, port, tmp_path):
    """The demo page and its static files, on `port`, pointed at `api`."""
    shutil.copytree(PROJECT_DIR / "staticfiles", tmp_path / "static")
    page = requests.get(api.url + "/").text
    page = page.replace("<body ", f'<body data-api-url="{api.url}" ', 1)
    (tmp_path / "index.html").write_text(page)
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def serving():
        try:
            return requests.get(f"http://127.0.0.1:{port}/index.html").ok
        except requests.ConnectionError:
            return False

    wait_until(serving)
    return process


@pytest.fixture
def frontend(api, front_port, tmp_path):
    process = serve_frontend(api, front_port, tmp_path)
    yield f"http://127.0.0.1:{front_port}/index.html"
    process.terminate()
    process.wait()


class Elsewhere:
    """`open_page` wants a server; a frontend is just its URL."""

    def __init__(self, url):
        self.url = url.removesuffix("/index.html")


def open_front(open_page, url):
    page = open_page(Elsewhere(url))
    page.goto(url)
    return page


def test_a_page_elsewhere_works_over_websocket(api, frontend, open_page):
    page = open_front(open_page, frontend)
    expect(page.get_by_role("status")).to_contain_text("WebSocket")
    title = f"from elsewhere {uuid.uuid4().hex[:6]}"
    create(page, title)
    expect(snippet_item(page, title)).to_be_visible()
    live = f"live {uuid.uuid4().hex[:6]}"
    requests.post(f"{api.url}/api/snippets/", json={"title": live, "code": "1"})
    expect(snippet_item(page, live)).to_be_visible()


def test_a_page_elsewhere_falls_back_to_http_with_statuses_readable(
    api,
    frontend,
    browser,
):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route_web_socket(re.compile(r".*/ws/api$"), lambda socket: socket.close())
        page.goto(frontend)
        expect(page.get_by_role("status")).to_contain_text("Server-Sent Events")
        title = f"over HTTP {uuid.uuid4().hex[:6]}"
        create(page, title)
        expect(snippet_item(page, title)).to_be_visible()
        expect(page.locator("#log")).to_contain_text("→ 201")
        live = f"streamed {uuid.uuid4().hex[:6]}"
        requests.post(f"{api.url}/api/snippets/", json={"title": live, "code": "1"})
        expect(snippet_item(page, live)).to_be_visible()
        alert = page.locator("#alert")
        for number in range(20):  # over ANON_THROTTLE_RATE: a 429, Retry-After read
            create(page, f"flood {number}")
            if alert.is_visible():
                break
        expect(alert).to_contain_text(re.compile(r"retry in \d+ seconds"))
    finally:
        context.close()


def test_a_page_from_an_unlisted_origin_gets_nothing(
    api, front_port, open_page, tmp_path
):
    port = free_port()
    while port == front_port:  # free again between tests, and listed
        port = free_port()
    process = serve_frontend(api, port, tmp_path)
    try:
        page = open_front(open_page, f"http://127.0.0.1:{port}/index.html")
        page.reload()  # as the session remembers: straight to event streams
        outcome = page.evaluate(
            """async (api) => {
              const http = await fetch(api + "/api/snippets/").then(
                () => "read", () => "refused");
              const socket = await new Promise((resolve) => {
                const ws = new WebSocket(api.replace("http", "ws") + "/ws/api");
                ws.onopen = () => resolve("open");
                ws.onclose = () => resolve("refused");
              });
              return [http, socket];
            }""",
            api.url,
        )
        assert outcome == ["refused", "refused"]
        expect(page.locator("#alert")).to_contain_text("Failed to fetch")
    finally:
        process.terminate()
        process.wait()
