"""Chromium (Debian's, driven by Playwright) for the page tests: one browser per
module, a fresh context per page, a screenshot of each page at the end."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ARTIFACTS_DIR, EVENT_TIMEOUT_SECONDS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A loaded machine may take seconds to reconnect or render; a broken page still
# fails, only later.
expect.set_options(timeout=EVENT_TIMEOUT_SECONDS * 1000)


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop in this thread; Django's async
    # safety check would then refuse the database flush between tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def open_page(browser, request):
    """Open a page (the demo's, unless `path` says) in a fresh browser context;
    no dialog may ever appear."""
    contexts = []

    def open_(server, *, width=1280, path="/"):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on(
            "dialog", lambda dialog: pytest.fail(f"dialog opened: {dialog.message}")
        )
        page.goto(server.url + path)
        return page

    yield open_
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for number, context in enumerate(contexts):
        for page in context.pages:
            page.screenshot(path=ARTIFACTS_DIR / f"{request.node.name}-{number}.png")
        context.close()
