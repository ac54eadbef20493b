"""The WebSocket server's limits, read from Django settings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


def _from(setting: str):
    """A field read from `setting` rather than from `WS_<FIELD NAME>`."""
    return field(metadata={"setting": setting})


@dataclass(frozen=True)
class ServerConfig:
    """Every limit of the WebSocket server; defaults live in settings.py only.

    Each field is read from the setting of the same name, upper-cased, after
    `WS_` (`max_in_flight` from `WS_MAX_IN_FLIGHT`) unless it names another.
    README.md's settings table says what each does.
    """

    max_message_bytes: int
    max_in_flight: int
    max_connections: int
    max_connections_per_address: int
    max_buffered_bytes: int
    max_reply_bytes: int
    max_subscriptions: int
    max_queued_requests: int
    frames_per_second: int
    ping_interval_seconds: float
    handshake_timeout_seconds: float
    idle_timeout_seconds: float
    drain_seconds: float
    threads: int
    token_grace_seconds: float
    render_cache_bytes: int
    resume_max_changes: int
    request_max_bytes: int = _from("REQUEST_MAX_BYTES")
    num_proxies: int = _from("NUM_PROXIES")
    allowed_origins: tuple[str, ...] = _from("ALLOWED_ORIGINS")

    @classmethod
    def from_settings(cls, **overrides) -> ServerConfig:
        """Read every field from Django's settings; `overrides` win."""
        from django.conf import settings

        values = {
            item.name: getattr(
                settings, item.metadata.get("setting", f"WS_{item.name.upper()}")
            )
            for item in fields(cls)
        }
        values["allowed_origins"] = tuple(values["allowed_origins"])
        return cls(**{**values, **overrides})
