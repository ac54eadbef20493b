"""
DRF throttles backed by an atomic Redis rate limiter shared by every process.

DRF's stock throttles read, modify and write a list of timestamps in one cache
entry, so concurrent requests admit more than the rate. Here each request is one
atomic `limits` moving-window hit: one Redis round trip, exact under concurrency.
"""

import logging
import math
import time
from functools import cache

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError
from rest_framework import status, throttling
from rest_framework.exceptions import APIException

from live import metrics
from live.conf import live_settings
from live.contract import address_group

log = logging.getLogger(__name__)


class RateLimiterUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Rate limiter unavailable (Redis unreachable); try again shortly."
    default_code = "rate_limiter_unavailable"


@cache
def limiter():
    """The process's rate limiter, on the shared Redis."""
    url = live_settings.REDIS_URL
    if url.startswith("unix://"):
        url = "redis+" + url
    storage = RedisStorage(
        url,
        key_prefix=f"{live_settings.REDIS_KEY_PREFIX}:throttle",
        **live_settings.REDIS_OPTIONS,
    )
    return MovingWindowRateLimiter(storage)


@cache
def rate_limit_item(rate):
    """Turn a DRF rate string such as `60/min` into a `limits` item."""
    num_requests, duration = throttling.SimpleRateThrottle.parse_rate(None, rate)
    return RateLimitItemPerSecond(num_requests, duration)


def seconds_until(reset_time):
    """Whole seconds until `reset_time` (a Unix time), at least 1: `Retry-After`."""
    return max(math.ceil(reset_time - time.time()), 1)


class RedisRateThrottle(throttling.SimpleRateThrottle):
    """A `SimpleRateThrottle` whose history lives in Redis, updated atomically."""

    retry_after = None

    def get_ident(self, request):
        """The client's address (as `NUM_PROXIES` trusts), an IPv6 one by its /64."""
        return address_group(super().get_ident(request))

    def allow_request(self, request, view):
        """Return `True` if the request should be allowed; count it if so."""
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        item = rate_limit_item(self.rate)
        try:
            if limiter().hit(item, key):
                return True
            reset_time = limiter().get_window_stats(item, key).reset_time
        except RedisError as exc:
            metrics.redis_errors.labels("throttle").inc()
            log.warning("Rate limiter unavailable: %r", exc)
            raise RateLimiterUnavailable() from None
        self.retry_after = seconds_until(reset_time)
        return False

    def wait(self):
        return self.retry_after


class AnonRateThrottle(RedisRateThrottle):
    """`ANON_THROTTLE_RATE` per client address, for anonymous requests only."""

    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return f"{self.scope}:{self.get_ident(request)}"


class UserRateThrottle(RedisRateThrottle):
    """`USER_THROTTLE_RATE` per signed-in user; anonymous requests pass untouched."""

    scope = "user"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return f"{self.scope}:{request.user.pk}"
        return None
