import logging

from django.db import DatabaseError, connection
from django.http import JsonResponse
from redis.exceptions import RedisError

from live import metrics
from live.redis_client import get_redis

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
        metrics.redis_errors.labels("health").inc()
        log.warning("Health check: redis failing: %s", exc)
        failing.append("redis")
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})


class HealthCheckMiddleware:
    """Answer `/healthz` and `/metrics` before anything judges the request's
    `Host`: a platform's health check or a metrics scraper may call them by the
    machine's address. No other path is served for a host outside
    `ALLOWED_HOSTS`."""

    views = {"/healthz": healthz, "/metrics": metrics.metrics_view}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.views.get(request.path)
        if view is not None:
            return view(request)
        return self.get_response(request)


class OneLineWarning(logging.Filter):
    """Log a record as one WARNING line, without its traceback. A request for a
    host we do not serve is a client's mistake (or a scanner's), not an error of
    ours; a traceback for each would bury the log."""

    def filter(self, record):
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True
