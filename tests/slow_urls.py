"""The project's URLs plus `/test/wait/<key>/`, a view that waits for the test."""

from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import TemplateView

from config.urls import urlpatterns as project_urlpatterns
from live.redis_client import get_redis

WAIT_LIMIT_SECONDS = 20


def wait(request, key):
    """Block until the test pushes to `key` in Redis (at most 20 s).

    Keys are unique per test, so they need no prefix and test processes and
    servers agree on them."""
    get_redis().rpush(f"test-entered:{key}", 1)
    released = get_redis().blpop([f"test-wait:{key}"], timeout=WAIT_LIMIT_SECONDS)
    return JsonResponse({"released": released is not None})


def wait_entered(key):
    """Wait until a `/test/wait/<key>/` request is inside its view."""
    assert get_redis().blpop([f"test-entered:{key}"], timeout=WAIT_LIMIT_SECONDS)


def release(key):
    """Let a waiting `/test/wait/<key>/` request answer."""
    get_redis().rpush(f"test-wait:{key}", 1)


urlpatterns = [
    path("test/wait/<str:key>/", wait),
    path("api/", include("tests.notes.urls")),
    # docs/forking.md's live page for notes.
    path("notes/", TemplateView.as_view(template_name="notes/index.html")),
    path("api/", include("tests.mine.urls")),
    *project_urlpatterns,
]


handler404 = "live.pages.not_found"  # the project's, here too


class WaitMiddleware:
    """A request with `X-Test-Wait: <key>` waits, before any view, until the test
    releases `key`: a slow request made deterministic, for any URL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("X-Test-Wait")
        if key:
            wait(request, key)
        return self.get_response(request)
