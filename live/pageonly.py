"""
Middleware that only HTML pages need, skipped for requests that cannot be for
a page: an API call for JSON (over HTTP or a WebSocket) shows no flash
messages, so it does not pay for their storage. A browser asks for `text/html`
for every page it shows (the browsable API's and the admin's included), and
those keep them. (Django's X-Frame-Options stays on every response: the
deploy checklist looks for it by name, and it costs little.)
"""

from django.contrib.messages.middleware import MessageMiddleware


def wants_page(request) -> bool:
    """Whether the request may be answered with an HTML page."""
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/html" in accept or "format=api" in request.META.get("QUERY_STRING", "")


class PageMessageMiddleware(MessageMiddleware):
    """Django's `MessageMiddleware`, only for `wants_page` requests."""

    def __call__(self, request):
        if wants_page(request):
            return super().__call__(request)
        return self.get_response(request)
