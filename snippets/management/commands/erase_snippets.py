import contextlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import LockError, LockNotOwnedError

from live.redis_client import get_redis, redis_key
from snippets.models import Snippet

log = logging.getLogger(__name__)
# Renewed before every batch: a long run keeps it, a dead one lets it go.
LOCK_SECONDS = 60
BATCH_SIZE = 100


def doomed_ids(*, older_than, keep_at_most):
    """The ids of snippets older than `older_than` seconds, and of all but the
    newest `keep_at_most`."""
    doomed = Q(created__lt=timezone.now() - timedelta(seconds=older_than))
    newest_first = Snippet.objects.order_by("-created", "-id")
    boundary = newest_first.values_list("created", "id")[keep_at_most:][:1].first()
    if boundary is not None:
        created, pk = boundary
        doomed |= Q(created__lt=created) | Q(created=created, id__lte=pk)
    return Snippet.objects.filter(doomed).values_list("id", flat=True)


def erase_snippets(*, older_than, keep_at_most, still_ours=lambda: True):
    """
    Delete snippets older than `older_than` seconds, and all but the newest
    `keep_at_most`, in batches of at most `BATCH_SIZE`, each in its own
    transaction. Return the number deleted.

    The long texts are not loaded (a snippet's code and highlighted page can be
    over a megabyte); the rest is, for the `deleted` events. Before each batch
    `still_ours()` is asked, and the run stops if it says no: another eraser
    holds the lock now. Each deletion sends a `deleted` event once its batch
    commits.
    """
    deleted = 0
    while still_ours():
        ids = list(
            doomed_ids(older_than=older_than, keep_at_most=keep_at_most)[:BATCH_SIZE]
        )
        if not ids:
            break
        with transaction.atomic():
            batch, _by_model = (
                Snippet.objects.filter(pk__in=ids).defer("code", "highlighted").delete()
            )
        deleted += batch
    return deleted


def extended(lock):
    """Give `lock` another `LOCK_SECONDS`; return `False` if it is no longer ours."""
    try:
        lock.reacquire()
    except LockNotOwnedError:
        log.warning("Erase stopped: the lock expired and another process took it")
        return False
    return True


class Command(BaseCommand):
    help = (
        "Erase snippets older than SNIPPET_TTL_SECONDS and all but the newest "
        "SNIPPETS_MAX. Safe to run from several schedulers: a Redis lock lets one "
        "run at a time, and a run that finds the lock taken skips."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help="erase snippets older than this (default: SNIPPET_TTL_SECONDS)",
        )

    def handle(self, *args, older_than=None, **options):
        older_than = settings.SNIPPET_TTL_SECONDS if older_than is None else older_than
        lock = get_redis().lock(redis_key("erase-lock"), timeout=LOCK_SECONDS)
        if not lock.acquire(blocking=False):
            log.info("Erase skipped: another process is erasing")
            return
        try:
            started = time.perf_counter()
            deleted = erase_snippets(
                older_than=older_than,
                keep_at_most=settings.SNIPPETS_MAX,
                still_ours=lambda: extended(lock),
            )
            log.info(
                "Erased %d snippets (older than %ds, beyond the newest %d) in %.0f ms",
                deleted,
                older_than,
                settings.SNIPPETS_MAX,
                (time.perf_counter() - started) * 1000,
            )
        finally:
            with contextlib.suppress(LockError):  # not ours any more: nothing to do
                lock.release()
