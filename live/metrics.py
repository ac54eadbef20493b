"""
What the running service counts, for `/metrics` (Prometheus's text format).

Every process counts into `prometheus_client`; under gunicorn, whose workers are
separate processes, each writes its figures to files in
`PROMETHEUS_MULTIPROC_DIR` (wsserver/gunicorn_conf.py makes one) and a scrape of
any worker adds them all up. README.md, "Operating it", says what each is for.
"""

import hmac
import os

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from live.conf import live_settings

# Gauges of several processes add up (a dead worker's figures are dropped).
LIVE_SUM = {"multiprocess_mode": "livesum"}

websockets_open = Gauge("live_websockets_open", "Open WebSockets.", **LIVE_SUM)
event_streams_open = Gauge(
    "live_event_streams_open", "Open Server-Sent Events streams.", **LIVE_SUM
)
connections_opened = Counter(
    "live_connections_opened", "WebSockets and event streams accepted.", ["transport"]
)
subscriptions = Gauge("live_subscriptions", "Subscriptions held.", **LIVE_SUM)
requests_in_django = Gauge(
    "live_requests_in_django",
    "Requests handed to Django's threads, running or queued for one.",
    ["transport"],
    **LIVE_SUM,
)
requests_queued = Gauge(
    "live_requests_queued",
    "Requests waiting for a free Django thread.",
    **LIVE_SUM,
)
replies = Counter(
    "live_replies",
    "Replies, by transport, method and status class (2xx...).",
    ["transport", "method", "status"],
)
refusals = Counter(
    "live_refusals",
    "Requests and connections the server refused itself, by the limit they met.",
    ["limit"],
)
fanout_lag = Histogram(
    "live_fanout_lag_seconds",
    "From a change's commit to its being handed to every subscriber here.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
renders_per_change = Histogram(
    "live_renders_per_change",
    "Requests made through Django to show one change to this process's subscribers.",
    buckets=(0, 1, 2, 3, 5, 10, 25, 50, 100, 250, 1000),
)
unshared_renders = Counter(
    "live_unshared_renders",
    "Subscribers shown a change by a render of their own instead of their cohort's: "
    "the render named another cohort, or their rights were changing.",
    ["reason"],
)
history_lag = Gauge(
    "live_history_reader_lag_seconds",
    "Age of the latest change the history reader took, when it took it.",
    multiprocess_mode="max",
)
redis_errors = Counter(
    "live_redis_errors", "Redis calls that failed, by what made them.", ["caller"]
)
redis_reconnects = Counter(
    "live_redis_reconnects", "History reader resumptions after a Redis failure."
)
drains = Counter("live_drains", "Graceful shutdowns begun.")


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def exposition() -> bytes:
    """Every process's figures, in the text format."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def bearer_matches(request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def metrics_view(request):
    """`/metrics`, for the bearer token `METRICS_TOKEN`. With no token set it
    is open in local use (`DEBUG`) and does not exist otherwise (404)."""
    token = live_settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        raise Http404
    if token and not bearer_matches(request, token):
        response = JsonResponse(
            {"detail": "Metrics need the bearer token METRICS_TOKEN."}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
