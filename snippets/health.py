import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from redis.exceptions import RedisError

from snippets.redis_client import get_redis

log = logging.getLogger(__name__)


def healthz(request):
    """
    Report 200 `{"status": "ok"}` when the database and Redis answer, else 503
    naming what does not. A plain Django view: never throttled.
    """
    failing = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        log.warning("Health check: database failing: %s", exc)
        failing.append("database")
    try:
        # A PING, not a read: nothing this app reads from Redis is unpickled.
        get_redis().ping()
    except RedisError as exc:
        log.warning("Health check: redis failing: %s", exc)
        failing.append("redis")
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})
