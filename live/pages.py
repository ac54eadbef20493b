from django.http import JsonResponse
from django.shortcuts import render
from django.views import defaults

from live.conf import live_settings


def playground(request):
    """Try every WebSocket operation from its AsyncAPI description."""
    return render(
        request, "live/playground.html", {"websocket_url": live_settings.WEBSOCKET_URL}
    )


def not_found(request, exception):
    """A path nothing serves (the project's `handler404`): under `/api/`, a JSON
    404 as every API error is; elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
