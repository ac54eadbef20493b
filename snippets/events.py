"""
Change events: every saved or deleted snippet is recorded in the history of
changes in Redis (a stream, `EVENTS_STREAM`) after its transaction commits,
whatever made the change (either transport, the admin, a shell, the erase job),
for the WebSocket processes to fan out to subscribers. The stream entry's id is
the change's position: subscribers resume from it.
"""

import json
import logging
import threading

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from redis.exceptions import RedisError

from snippets.models import Snippet
from snippets.redis_client import get_redis
from snippets.serializers import SnippetSerializer

log = logging.getLogger(__name__)


# A change this process could not record (Redis unreachable at commit). The next
# record it makes is preceded by a `resync`, so no subscriber is left wrong in
# silence; the fan-out also sends one when its own link comes back.
unrecorded = threading.Event()
RESYNC = json.dumps({"event": "resync"})


def publish(event):
    """Append `event` to the history; a Redis fault is logged and remembered."""
    client = get_redis()
    options = {"maxlen": settings.EVENTS_HISTORY, "approximate": False}
    try:
        if unrecorded.is_set():
            client.xadd(settings.EVENTS_STREAM, {"event": RESYNC}, **options)
            unrecorded.clear()
        encoded = json.dumps(event, separators=(",", ":"))
        client.xadd(settings.EVENTS_STREAM, {"event": encoded}, **options)
    except RedisError as exc:
        unrecorded.set()
        log.warning("Event not recorded (%s): %s %s", exc, event["event"], event["url"])


def snippet_event(name, snippet):
    """The `created` or `updated` event: the snippet exactly as GET shows it."""
    data = SnippetSerializer(snippet, context={"request": None}).data
    return {"event": name, "url": data["url"], "data": data}


@receiver(post_save, sender=Snippet)
def snippet_saved(sender, instance, created, **kwargs):
    name = "created" if created else "updated"
    # Rendered at commit, once per change, however many subscribers there are.
    transaction.on_commit(lambda: publish(snippet_event(name, instance)), robust=True)


@receiver(post_delete, sender=Snippet)
def snippet_deleted(sender, instance, **kwargs):
    url = reverse("snippet-detail", kwargs={"pk": instance.pk})
    event = {"event": "deleted", "url": url, "data": {"id": instance.pk, "url": url}}
    transaction.on_commit(lambda: publish(event), robust=True)
