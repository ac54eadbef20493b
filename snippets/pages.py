from django.conf import settings
from django.shortcuts import render

from live.conf import live_settings


def index(request):
    """The demo page, told where the WebSocket is and how long snippets live."""
    return render(
        request,
        "index.html",
        {
            "websocket_url": live_settings.WEBSOCKET_URL,
            "snippet_ttl_seconds": settings.SNIPPET_TTL_SECONDS,
        },
    )
