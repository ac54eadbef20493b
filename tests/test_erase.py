"""The erase job: old snippets and all but the newest SNIPPETS_MAX are erased."""

from datetime import timedelta

import pytest
from django.core.management import call_command
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
    with caplog.at_level("INFO", logger="snippets.erase"):
        call_command("erase_snippets")
    assert "Erased 2 snippets" in caplog.text
    assert " ms" in caplog.text


@pytest.mark.django_db
def test_erase_skips_while_another_process_holds_the_lock(settings):
    """A second eraser finds the Redis lock taken and erases nothing."""
    from snippets.redis_client import get_redis, redis_key

    make_snippets(1, age=timedelta(days=1))
    lock = get_redis().lock(redis_key("erase-lock"), timeout=30)
    assert lock.acquire(blocking=False)
    try:
        call_command("erase_snippets")
    finally:
        lock.release()
    assert Snippet.objects.count() == 1
