"""Concurrent changes to one snippet end as the last committed one says."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from snippets.models import Snippet
from snippets.serializers import SnippetSerializer
from tests.conftest import EVENT_TIMEOUT_SECONDS

pytestmark = pytest.mark.django_db(transaction=True)
# How long the DELETE may take before the test concludes it is waiting for the
# PUT's lock (as it should) and lets the PUT go on. Not a correctness timeout:
# the test passes either way when the snippet stays deleted.
LOCK_WAIT_SECONDS = 1


def in_thread(target):
    """Run `target` in a thread with its own database connection."""

    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_put_racing_a_delete_never_brings_the_snippet_back(monkeypatch):
    """A PUT that read the snippet before a DELETE committed gets no resurrection."""
    owner = User.objects.create_user("owner", password="x")
    snippet = Snippet.objects.create(title="t", code="1", owner=owner)
    loaded, go_on = threading.Event(), threading.Event()
    update = SnippetSerializer.update

    def paused_update(serializer, instance, validated_data):
        loaded.set()  # the PUT has read the row and is about to save it
        go_on.wait(EVENT_TIMEOUT_SECONDS)
        return update(serializer, instance, validated_data)

    monkeypatch.setattr(SnippetSerializer, "update", paused_update)
    statuses = []

    def put():
        client = APIClient()
        client.force_authenticate(owner)
        data = {"title": "edited", "code": "2"}
        statuses.append(client.put(f"/api/snippets/{snippet.pk}/", data).status_code)

    putter = in_thread(put)
    assert loaded.wait(EVENT_TIMEOUT_SECONDS)
    deleter = in_thread(lambda: Snippet.objects.filter(pk=snippet.pk).delete())
    deleter.join(LOCK_WAIT_SECONDS)
    go_on.set()
    putter.join(EVENT_TIMEOUT_SECONDS)
    deleter.join(EVENT_TIMEOUT_SECONDS)
    assert statuses in ([200], [404])
    assert not Snippet.objects.filter(pk=snippet.pk).exists()
