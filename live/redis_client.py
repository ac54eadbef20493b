from functools import cache

import redis

from live.conf import live_settings


@cache
def get_redis():
    """The process's synchronous Redis client on `REDIS_URL`."""
    return redis.Redis.from_url(live_settings.REDIS_URL, **live_settings.REDIS_OPTIONS)


def redis_key(*parts):
    """A key under `REDIS_KEY_PREFIX`, so deployments can share one Redis."""
    return ":".join([live_settings.REDIS_KEY_PREFIX, *parts])
