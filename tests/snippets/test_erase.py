"""The erase job: old snippets and all but the newest SNIPPETS_MAX are erased."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models.signals import post_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from snippets.models import Snippet


def make_snippets(count, *, age=timedelta(0)):
    snippets = [Snippet.objects.create(title=f"s{i}", code="1") for i in range(count)]
    Snippet.objects.filter(pk__in=[s.pk for s in snippets]).update(
        created=timezone.now() - age
    )
    return snippets


@pytest.mark.django_db
def test_erase_deletes_snippets_older_than_the_lifetime(settings):
    """Snippets older than SNIPPET_TTL_SECONDS go; younger ones stay."""
    settings.SNIPPET_TTL_SECONDS = 600
    make_snippets(2, age=timedelta(seconds=601))
    young = make_snippets(1, age=timedelta(seconds=500))
    call_command("erase_snippets")
    assert list(Snippet.objects.all()) == young


@pytest.mark.django_db
def test_older_than_option_overrides_the_lifetime(settings):
    """`--older-than SECONDS` takes the place of SNIPPET_TTL_SECONDS."""
    settings.SNIPPET_TTL_SECONDS = 600
    make_snippets(1, age=timedelta(seconds=120))
    call_command("erase_snippets", "--older-than", "60")
    assert not Snippet.objects.exists()


@pytest.mark.django_db
def test_erase_keeps_only_the_newest_snippets_max(settings):
    """Beyond SNIPPETS_MAX, the oldest snippets are erased, even young ones."""
    settings.SNIPPETS_MAX = 3
    snippets = make_snippets(5)
    call_command("erase_snippets")
    kept = set(Snippet.objects.values_list("pk", flat=True))
    assert kept == {s.pk for s in snippets[-3:]}


@pytest.mark.django_db
def test_erase_logs_what_it_erased_and_how_long_it_took(settings, caplog):
    """The job says how many snippets it erased and in how many milliseconds."""
    make_snippets(2, age=timedelta(days=1))
    with caplog.at_level("INFO", logger="snippets.management.commands.erase_snippets"):
        call_command("erase_snippets")
    assert "Erased 2 snippets" in caplog.text
    assert " ms" in caplog.text


@pytest.mark.django_db
def test_erase_skips_while_another_process_holds_the_lock(settings):
    """A second eraser finds the Redis lock taken and erases nothing."""
    from live.redis_client import get_redis, redis_key

    make_snippets(1, age=timedelta(days=1))
    lock = get_redis().lock(redis_key("erase-lock"), timeout=30)
    assert lock.acquire(blocking=False)
    try:
        call_command("erase_snippets")
    finally:
        lock.release()
    assert Snippet.objects.count() == 1


@pytest.mark.django_db
def test_erase_loads_only_ids_in_batches(settings, monkeypatch):
    """The job never loads a doomed snippet's code or page, and deletes in batches."""
    from snippets.management.commands import erase_snippets as command

    monkeypatch.setattr(command, "BATCH_SIZE", 2)
    make_snippets(5, age=timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        call_command("erase_snippets")
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert not any('"code"' in sql or '"highlighted"' in sql for sql in selects)
    assert len(deletes) == 3
    assert not Snippet.objects.exists()


@pytest.mark.django_db
def test_erase_stops_when_another_process_takes_the_lock(settings, monkeypatch):
    """A run whose lock expired and was taken over stops before its next batch."""
    from live.redis_client import get_redis, redis_key
    from snippets.management.commands import erase_snippets as command

    monkeypatch.setattr(command, "BATCH_SIZE", 2)
    make_snippets(5, age=timedelta(days=1))

    def taken_over(sender, **kwargs):
        get_redis().set(redis_key("erase-lock"), "another-process")

    post_delete.connect(taken_over, sender=Snippet)
    try:
        call_command("erase_snippets")
    finally:
        post_delete.disconnect(taken_over, sender=Snippet)
    assert Snippet.objects.count() == 3
    assert get_redis().get(redis_key("erase-lock")) == b"another-process"
