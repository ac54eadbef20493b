from django.core.management import call_command
from django.core.management.base import BaseCommand

from live.redis_client import get_redis, redis_key


class Command(BaseCommand):
    help = (
        "Apply migrations once even when several web processes start together: "
        "the first takes a Redis lock, the others wait and find nothing to do."
    )

    def handle(self, *args, **options):
        lock = get_redis().lock(redis_key("migrate"), timeout=600, blocking_timeout=600)
        with lock:
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
