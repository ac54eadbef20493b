import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from snippets.models import Snippet
from snippets.redis_client import get_redis, redis_key

log = logging.getLogger("snippets.erase")


def erase_snippets(*, older_than, keep_at_most):
    """
    Delete snippets older than `older_than` seconds, and all but the newest
    `keep_at_most`, in one transaction. Return the number deleted.

    Each deletion sends a `deleted` event once the transaction commits.
    """
    doomed = Q(created__lt=timezone.now() - timedelta(seconds=older_than))
    newest_first = Snippet.objects.order_by("-created", "-id")
    boundary = newest_first.values_list("created", "id")[keep_at_most:][:1].first()
    if boundary is not None:
        created, pk = boundary
        doomed |= Q(created__lt=created) | Q(created=created, id__lte=pk)
    with transaction.atomic():
        deleted, _by_model = Snippet.objects.filter(doomed).delete()
    return deleted


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
        lock = get_redis().lock(
            redis_key("erase-lock"), timeout=max(settings.ERASE_INTERVAL_SECONDS, 60)
        )
        if not lock.acquire(blocking=False):
            log.info("Erase skipped: another process is erasing")
            return
        try:
            started = time.perf_counter()
            deleted = erase_snippets(
                older_than=older_than, keep_at_most=settings.SNIPPETS_MAX
            )
            log.info(
                "Erased %d snippets (older than %ds, beyond the newest %d) in %.0f ms",
                deleted,
                older_than,
                settings.SNIPPETS_MAX,
                (time.perf_counter() - started) * 1000,
            )
        finally:
            lock.release()
