"""uvicorn's HTTP/1.1 protocol with a deadline for the request head (slowloris).

uvicorn times out idle keep-alive connections, but not a client that connects and sends
nothing, or sends its headers a byte at a time: each such connection would hold a slot of
`limit_concurrency` forever. Here a complete request line and headers must arrive within
`HEADER_TIMEOUT` seconds of the connection opening (or of the previous response); otherwise
the connection is closed. Slow bodies are handled by the body guard (408).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "HeaderDeadlineProtocol", "protocol_class"]

HEADER_TIMEOUT = 20.0


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol that closes connections whose request head does not arrive in time."""

    header_timeout: float = HEADER_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer with the connection."""
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        """The next request head on a kept-alive connection has the same deadline."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        # IDLE on their side: no complete request head since the timer started.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_class(header_timeout: float) -> Any:
    """A HeaderDeadlineProtocol subclass with this deadline (uvicorn takes a class)."""
    return type("Protocol", (HeaderDeadlineProtocol,), {"header_timeout": header_timeout})
