"""Page-only middleware: skipped for API calls, kept for anything a browser shows."""

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client, RequestFactory

from live.pageonly import PageMessageMiddleware

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "accept, query, framed",
    [
        ("application/json", "", False),
        ("*/*", "", False),
        ("", "", False),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "", True),  # a browser's
        ("*/*", "?format=api", True),  # the browsable API, asked for by name
    ],
)
def test_only_requests_for_a_page_get_x_frame_options(accept, query, framed):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = Client().get(f"/api/notes/{query}", **headers)
    assert response.status_code == 200
    assert (response.get("X-Frame-Options") == "DENY") is framed


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
