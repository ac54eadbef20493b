"""The WebSocket server's limits, read from Django settings with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ServerConfig:
    """Every limit of the WebSocket server; see README.md's settings table."""

    max_message_bytes: int = 64 * 1024
    max_in_flight: int = 100
    max_connections: int = 10_000
    max_buffered_bytes: int = 1024 * 1024
    ping_interval_seconds: float = 25
    handshake_timeout_seconds: float = 30
    drain_seconds: float = 10
    threads: int = 8
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> ServerConfig:
        """Read `WS_*` settings, falling back to the defaults above."""
        defaults = cls()
        return cls(
            max_message_bytes=getattr(
                settings, "WS_MAX_MESSAGE_BYTES", defaults.max_message_bytes
            ),
            max_in_flight=getattr(settings, "WS_MAX_IN_FLIGHT", defaults.max_in_flight),
            max_connections=getattr(
                settings, "WS_MAX_CONNECTIONS", defaults.max_connections
            ),
            max_buffered_bytes=getattr(
                settings, "WS_MAX_BUFFERED_BYTES", defaults.max_buffered_bytes
            ),
            ping_interval_seconds=getattr(
                settings, "WS_PING_INTERVAL_SECONDS", defaults.ping_interval_seconds
            ),
            handshake_timeout_seconds=getattr(
                settings,
                "WS_HANDSHAKE_TIMEOUT_SECONDS",
                defaults.handshake_timeout_seconds,
            ),
            drain_seconds=getattr(settings, "WS_DRAIN_SECONDS", defaults.drain_seconds),
            threads=getattr(settings, "WS_THREADS", defaults.threads),
            allowed_origins=tuple(getattr(settings, "WS_ALLOWED_ORIGINS", ())),
        )
