"""`uvicorn bench.peer.asgi:application`: DCRF at `/ws/dcrf`, Django over HTTP."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peer.settings")

from django.core.asgi import get_asgi_application

http = get_asgi_application()  # sets Django up before the consumer is imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.peer.consumers import SnippetConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": URLRouter([path("ws/dcrf", SnippetConsumer.as_asgi())]),
    }
)
