"""The WebSocket server's limits: their defaults, which a project's Django
settings override by name (DRF's `api_settings` pattern). Here, in the live app,
because both sides read them: the server enforces them, and the AsyncAPI
document (live/asyncapi.py) states them; the server depends on the app, never
the other way round."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields


def _from(setting: str, default):
    """A field read from `setting` rather than from `WS_<FIELD NAME>`."""
    return field(default=default, metadata={"setting": setting})


@dataclass(frozen=True)
class ServerConfig:
    """Every limit of the WebSocket server. Each field is read from the Django
    setting of the same name, upper-cased, after `WS_` (`max_in_flight` from
    `WS_MAX_IN_FLIGHT`) unless it names another; a project that sets none gets
    these defaults. docs/settings.md says what each does."""

    max_message_bytes: int = 64 * 1024
    max_in_flight: int = 100
    max_connections: int = 10_000
    max_connections_per_address: int = 100
    max_buffered_bytes: int = 1024 * 1024
    max_reply_bytes: int = 16 * 1024 * 1024
    max_subscriptions: int = 100
    max_queued_requests: int = 256
    frames_per_second: int = 200
    ping_interval_seconds: float = 25.0
    handshake_timeout_seconds: float = 30.0
    idle_timeout_seconds: float = 300.0
    drain_seconds: float = 10.0
    threads: int = 8
    token_grace_seconds: float = 10.0
    # Renders of changes kept to share with subscribers catching up, per worker:
    # two workers and their 32 MiB each fit a 512 MB dyno with room to spare.
    render_cache_bytes: int = 32 * 1024 * 1024
    # A resume further behind than this many changes gets a snapshot instead.
    resume_max_changes: int = 100
    request_max_bytes: int = _from("REQUEST_MAX_BYTES", 1024 * 1024)
    num_proxies: int = _from("NUM_PROXIES", 0)
    allowed_origins: tuple[str, ...] = _from("ALLOWED_ORIGINS", ())

    @classmethod
    def from_settings(cls, **overrides) -> ServerConfig:
        """Each field from Django's settings where they set it; `overrides` win."""
        from django.conf import settings

        values = {
            item.name: getattr(settings, _setting(item), item.default)
            for item in fields(cls)
        }
        values["allowed_origins"] = tuple(values["allowed_origins"])
        return cls(**{**values, **overrides})

    @classmethod
    def environ_settings(cls, environ: Mapping[str, str]) -> dict:
        """`{"WS_...": value}` for each limit of the server's own that `environ`
        sets (12-factor), read as its default's type: for a settings module to
        take in, `globals().update(ServerConfig.environ_settings(os.environ))`."""
        found = {}
        for item in fields(cls):
            name = _setting(item)
            if name.startswith("WS_") and name in environ:
                found[name] = type(item.default)(environ[name])
        return found


def _setting(item: Field) -> str:
    return item.metadata.get("setting", f"WS_{item.name.upper()}")
