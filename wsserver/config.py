"""The WebSocket server's limits, read from the `WS_*` Django settings."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ServerConfig:
    """Every limit of the WebSocket server; defaults live in settings.py only.

    Each field is read from the setting of the same name, upper-cased, after
    `WS_`: `max_in_flight` from `WS_MAX_IN_FLIGHT`. README.md's settings table
    says what each does.
    """

    max_message_bytes: int
    max_in_flight: int
    max_connections: int
    max_buffered_bytes: int
    ping_interval_seconds: float
    handshake_timeout_seconds: float
    drain_seconds: float
    threads: int
    allowed_origins: tuple[str, ...]

    @classmethod
    def from_settings(cls, **overrides) -> ServerConfig:
        """Read every field from Django's settings; `overrides` win."""
        from django.conf import settings

        values = {
            field.name: getattr(settings, f"WS_{field.name.upper()}")
            for field in fields(cls)
        }
        values["allowed_origins"] = tuple(values["allowed_origins"])
        return cls(**{**values, **overrides})
