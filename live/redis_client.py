from functools import cache

import redis
from django.conf import settings


@cache
def get_redis():
    """The process's synchronous Redis client on `REDIS_URL`."""
    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_OPTIONS)


def redis_key(*parts):
    """A key under `REDIS_KEY_PREFIX`, so deployments can share one Redis."""
    return ":".join([settings.REDIS_KEY_PREFIX, *parts])
