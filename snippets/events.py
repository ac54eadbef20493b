"""
Change events: every saved or deleted snippet is published to Redis after its
transaction commits, whatever made the change (either transport, the admin, a
shell, the erase job), for the WebSocket processes to fan out to subscribers.
"""

import json
import logging

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


def publish(event):
    """Publish `event` once; delivery is at-most-once, so a Redis fault is logged."""
    try:
        get_redis().publish(
            settings.EVENTS_CHANNEL, json.dumps(event, separators=(",", ":"))
        )
    except RedisError as exc:
        log.warning(
            "Event not published (%s): %s %s", exc, event["event"], event["url"]
        )


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
