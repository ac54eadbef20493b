"""
Change events: every saved or deleted row of a live model (`track()`) is
recorded in the history of changes in Redis (a stream, `EVENTS_STREAM`) after
its transaction commits, whatever made the change (either transport, the admin,
a shell, the erase job), for the WebSocket processes to fan out to subscribers.
The stream entry's id is the change's position: subscribers resume from it.

A record says which resource changed and how, never how anyone sees it:
`{"event", "url", "id", "model", "before", "concerned"}`, where `model` is the
row's model (`app_label.model`: a cohort named by that model's view applies to
it alone), `before` holds the row's values before the change (live/views.py:
`recorded_fields`) and `concerned` the identities that may see the row otherwise
than their cohort (its owner). Each subscriber is shown the change as its own
GET shows the resource. Records of credentials and rights (`revoked`,
`rights-changing`, `rights-changed`) are written by live/revocation.py.
"""

import json
import logging
import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.urls import reverse
from redis.exceptions import RedisError

from live import metrics
from live.conf import live_settings
from live.redis_client import get_redis
from live.views import LiveViewSetMixin, recorded_fields

log = logging.getLogger(__name__)


# A change this process could not record (Redis unreachable at commit). The next
# record it makes is preceded by a `resync`, so no subscriber is left wrong in
# silence; the fan-out also sends one when its own link comes back.
unrecorded = threading.Event()
RESYNC = {"event": "resync"}


def append(writer, event):
    """Append `event` to the history through `writer` (a Redis client, or a
    pipeline that sends it with other commands), capped at `EVENTS_HISTORY`."""
    encoded = json.dumps(event, separators=(",", ":"), cls=DjangoJSONEncoder)
    writer.xadd(
        live_settings.EVENTS_STREAM,
        {"event": encoded},
        maxlen=live_settings.EVENTS_HISTORY,
        approximate=False,
    )


def publish(event):
    """Append `event` to the history; a Redis fault is logged and remembered."""
    client = get_redis()
    try:
        if unrecorded.is_set():
            append(client, RESYNC)
            unrecorded.clear()
        append(client, event)
    except RedisError as exc:
        metrics.redis_errors.labels("history").inc()
        unrecorded.set()
        log.warning("Event not recorded (%s): %s", exc, event["event"])


def publish_on_commit(event):
    transaction.on_commit(lambda: publish(event), robust=True)


# The detail view names of the tracked models (what /api/asyncapi.json lists).
tracked: list[str] = []


def track(viewset, *, basename=None):
    """
    Make the resources of `viewset` (a `LiveViewSetMixin` ModelViewSet) live:
    every save and delete of its model's rows is recorded under the URL of its
    detail view, and each subscriber is shown it as that view shows it. Call it
    from the app's `AppConfig.ready()`. `basename` is the one the router
    registered the viewset with (by default, as DRF derives it: the model's
    name in lower case).
    """
    if not issubclass(viewset, LiveViewSetMixin):
        raise ImproperlyConfigured(f"{viewset.__name__} must be a LiveViewSetMixin")
    model = viewset.queryset.model
    detail_view_name = f"{basename or model._meta.object_name.lower()}-detail"
    tracked.append(detail_view_name)
    attnames = [field.attname for field in recorded_fields(model)]

    def url(pk):
        return reverse(detail_view_name, kwargs={"pk": pk})

    def remember(sender, instance, **kwargs):
        # Read in the saving transaction (after the row lock a PUT takes): the
        # row exactly as it was. One small query per save.
        rows = model._base_manager.filter(pk=instance.pk).values(*attnames)
        instance._live_before = None if instance.pk is None else rows.first()

    def concerned(*rows):
        """Whom the change may show otherwise than their cohort, sorted."""
        return sorted(set().union(*(viewset.concerned(row) for row in rows if row)))

    label = model._meta.label_lower

    def saved(sender, instance, created, **kwargs):
        before = instance.__dict__.pop("_live_before", None)
        after = {name: getattr(instance, name) for name in attnames}
        publish_on_commit(
            {
                "event": "created" if created else "updated",
                "url": url(instance.pk),
                "id": instance.pk,
                "model": label,
                "before": before,
                "concerned": concerned(before, after),
            }
        )

    def deleted(sender, instance, **kwargs):
        before = {name: getattr(instance, name) for name in attnames}
        data = {"id": instance.pk, "url": url(instance.pk)}
        publish_on_commit(
            {
                "event": "deleted",
                "url": data["url"],
                "id": instance.pk,
                "model": label,
                "data": data,
                "before": before,
                "concerned": concerned(before),
            }
        )

    pre_save.connect(remember, sender=model, weak=False)
    post_save.connect(saved, sender=model, weak=False)
    post_delete.connect(deleted, sender=model, weak=False)
