"""uvicorn's HTTP/1.1 protocol with a deadline for the request head and connection caps.

uvicorn times out idle keep-alive connections, but not a client that connects and sends
nothing, or sends its headers a byte at a time (slowloris): each such connection would hold a
slot forever. Here a complete request line and headers must arrive within `header_timeout`
seconds of the connection opening (or of the previous response); otherwise the connection is
closed. Slow bodies are handled by the body guard (408). Each connection is admitted by the
server's ConnectionRegistry (sync/server/connections.py): a cap per address, and a cap in all
that closes the longest-idle connection rather than refusing a new one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sync.server.connections import ConnectionRegistry
from sync.server.guard import error_bytes
from sync.server.settings import ServerSettings

__all__ = ["HEADER_TIMEOUT", "HeaderDeadlineProtocol", "protocol_class"]

HEADER_TIMEOUT = 10.0
_REFUSED_LINGER = 1.0  # seconds a refused connection is read (and ignored) before closing


def _refusal(reason: str) -> bytes:
    body = error_bytes("unavailable", f"{reason}; try again shortly")
    head = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n" % len(body)
    )
    return head + body


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol that closes connections whose request head does not arrive in time."""

    header_timeout: float = HEADER_TIMEOUT
    registry: ConnectionRegistry | None = None
    _head_timer: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (or refuse it with a 503) and start the head deadline."""
        super().connection_made(transport)
        if self.registry is not None:
            address = self.client[0] if self.client else ""
            refused = self.registry.admit(self, address)
            if refused is not None:
                # Answer, then half-close and read on briefly: closing with the request
                # unread would reset the connection and lose the 503 on its way.
                self._refused = True
                transport.write(_refusal(refused))
                if transport.can_write_eof():
                    transport.write_eof()
                self.loop.call_later(_REFUSED_LINGER, transport.close)
                return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        """Ignore what a refused connection still sends."""
        if self._refused:
            return
        super().data_received(data)

    def eof_received(self) -> None:
        """A refused client that has read its answer and left: close at once."""
        if self._refused:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer and the registry entry with the connection."""
        if self._head_timer is not None:
            self._head_timer.cancel()
        if self.registry is not None:
            self.registry.forget(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """The next request head on a kept-alive connection has the same deadline."""
        super().on_response_complete()
        if not self.transport.is_closing():
            if self.registry is not None:
                self.registry.idle(self)
            self._arm_head_timer()

    def is_idle(self) -> bool:
        """No request in progress: waiting for a request head."""
        return self.conn.their_state is h11.IDLE and (
            self.cycle is None or self.cycle.response_complete
        )

    def close_idle(self) -> None:
        """Close to make room for a new connection (it has no request in progress)."""
        if not self.transport.is_closing():
            self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        # IDLE on their side: no complete request head since the timer started.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_class(settings: ServerSettings) -> Any:
    """A HeaderDeadlineProtocol subclass with these deadlines and one registry of its own
    (uvicorn takes a class and makes one instance per connection)."""
    registry = ConnectionRegistry(
        total=settings.max_connections,
        per_address=settings.max_connections_per_address,
        exempt=settings.trusted_proxies,
    )
    return type(
        "Protocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout": settings.header_timeout_seconds, "registry": registry},
    )
