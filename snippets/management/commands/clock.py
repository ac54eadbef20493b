import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DatabaseError
from django.utils import timezone

log = logging.getLogger(__name__)


def erase_job():
    # One failed run (a database or Redis hiccup) must not stop the clock.
    try:
        call_command("erase_snippets")
    except DatabaseError as error:
        # Expected at a deploy's first start: the clock may run before the web
        # process has applied migrations. One line, no traceback.
        log.warning("Erase skipped, database not ready (%s); next run retries", error)
    except Exception:  # deliberately broad: whatever failed, the clock goes on
        log.exception("Erase failed; the next run will try again")


class Command(BaseCommand):
    help = "The clock process: run erase_snippets every ERASE_INTERVAL_SECONDS."

    def handle(self, *args, **options):
        scheduler = BlockingScheduler(timezone="UTC")
        scheduler.add_job(
            erase_job,
            "interval",
            seconds=settings.ERASE_INTERVAL_SECONDS,
            next_run_time=timezone.now(),
            max_instances=1,
            coalesce=True,
        )
        log.info("Clock: erasing every %ds", settings.ERASE_INTERVAL_SECONDS)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)
