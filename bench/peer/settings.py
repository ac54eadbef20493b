"""The project's own settings, plus Channels: the same database, model and
serializer, so only the transport and its framework differ."""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "channels"]
ASGI_APPLICATION = "bench.peer.asgi.application"
