"""
The live app's settings, in one place, as DRF's `api_settings` keeps its own:
each has a default, and a project's settings name only what they change, as
`LIVE_<NAME>`. The old unprefixed names (`EVENTS_STREAM`, `METRICS_TOKEN`, ...)
are still read where no `LIVE_` one is set, for a while. Read them as
`live_settings.NAME`; a changed setting (a test's) is picked up at once.

| name | default | what |
|---|---|---|
| `REDIS_URL` | (required) | the Redis every process shares |
| `REDIS_OPTIONS` | `{}` | keyword arguments for its clients (timeouts, TLS) |
| `REDIS_KEY_PREFIX` | `"live"` | the prefix of every key, so apps can share one Redis |
| `EVENTS_STREAM` | `"<REDIS_KEY_PREFIX>:events"` | the history of changes |
| `EVENTS_HISTORY` | `10000` | how many changes it keeps |
| `WEBSOCKET_URL` | `""` | where pages open the socket (`""`: this site) |
| `METRICS_TOKEN` | `""` | the bearer token `/metrics` answers (none: local use only) |
| `LOGIN_THROTTLE_RATE` | `"10/min"` | sign-in attempts per client address |
| `LOGIN_ACCOUNT_THROTTLE_RATE` | `"30/min"` | failed ones per username |
| `JSON_MAX_DEPTH` | `32` | how deep a JSON body may nest |
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

PREFIX = "LIVE_"
DEFAULTS = {
    "REDIS_URL": None,
    "REDIS_OPTIONS": {},
    "REDIS_KEY_PREFIX": "live",
    "EVENTS_STREAM": None,  # derived from REDIS_KEY_PREFIX
    "EVENTS_HISTORY": 10_000,
    "WEBSOCKET_URL": "",
    "METRICS_TOKEN": "",
    "LOGIN_THROTTLE_RATE": "10/min",
    "LOGIN_ACCOUNT_THROTTLE_RATE": "30/min",
    "JSON_MAX_DEPTH": 32,
}
UNSET = object()


class LiveSettings:
    """`live_settings.NAME`: `LIVE_NAME`, else the old `NAME`, else the default."""

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"No live setting {name!r}")
        value = getattr(settings, PREFIX + name, UNSET)
        if value is UNSET:
            value = getattr(settings, name, DEFAULTS[name])
        if name == "EVENTS_STREAM" and value is None:
            value = f"{self.REDIS_KEY_PREFIX}:events"
        if name == "REDIS_URL" and not value:
            raise ImproperlyConfigured(
                "The live app needs a Redis: set LIVE_REDIS_URL (or REDIS_URL)."
            )
        self.__dict__[name] = value  # until a setting changes
        return value

    def reload(self):
        self.__dict__.clear()


live_settings = LiveSettings()


def _reload(*, setting, **kwargs):
    if setting.removeprefix(PREFIX) in DEFAULTS:
        live_settings.reload()


setting_changed.connect(_reload)
