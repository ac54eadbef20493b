"""Page-only middleware: skipped for API calls, kept for anything a browser shows."""

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client, RequestFactory

from live.pageonly import PageMessageMiddleware

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "accept, query, page",
    [
        ("application/json", "", False),
        ("*/*", "", False),
        ("", "", False),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "", True),  # a browser's
        ("*/*", "?format=api", True),  # the browsable API, asked for by name
    ],
)
def test_only_requests_for_a_page_get_message_storage(accept, query, page):
    seen = []

    def view(request):
        seen.append(hasattr(request, "_messages"))
        return HttpResponse()

    meta = {"HTTP_ACCEPT": accept} if accept else {}
    request = RequestFactory().get(f"/api/notes/{query}", **meta)
    request.session = Client().session
    PageMessageMiddleware(view)(request)
    assert seen == [page]


def test_pages_keep_their_messages():
    """For a page, the subclass is Django's `MessageMiddleware` as it was."""
    request = RequestFactory().get("/admin/", HTTP_ACCEPT="text/html")
    request.session = Client().session

    def view(request):
        assert list(get_messages(request)) == []
        return None

    PageMessageMiddleware(view)(request)
    assert hasattr(request, "_messages")


def test_the_admin_still_finds_its_middleware():
    call_command("check", "--fail-level", "ERROR")
