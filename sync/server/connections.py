"""Who holds the server's connections: a cap in all, a cap per address, idle ones go first.

uvicorn's own `limit_concurrency` counts open connections, idle ones included: 200 idle TCP
connections, reopened as they were dropped, kept the server answering 503 to everyone (issue
14). Here an idle connection (no request in progress: waiting for its first request head, or
kept alive after a reply) never blocks a new one: when the server is full, the connection that
has been idle longest is closed to make room (one that never completed a request before one
that did). Only connections in the middle of a request
count against the cap, and those are bounded by the body deadlines. One address may hold at
most `per_address` connections, so one client (or one attacker) cannot take them all; the
addresses of a trusted reverse proxy are exempt, since every client then arrives from it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

__all__ = ["Admission", "ConnectionRegistry", "Tracked"]


class Tracked(Protocol):
    """A connection the registry can inspect and close."""

    def is_idle(self) -> bool:
        """True when no request is in progress on it."""
        ...

    def close_idle(self) -> None:
        """Close it (it is idle)."""
        ...


class Admission:
    """Why a connection was refused (None from ``admit`` means admitted)."""

    FULL = "server full"
    ADDRESS = "too many connections from this address"


class ConnectionRegistry:
    """Open connections of one server, by address, with the time each last became idle."""

    def __init__(self, *, total: int, per_address: int, exempt: Iterable[str] = ()) -> None:
        self.total = total
        self.per_address = per_address
        self.exempt = frozenset(exempt)
        self._by_address: dict[str, int] = {}
        self._idle_since: dict[Tracked, float] = {}
        self._address: dict[Tracked, str] = {}
        self._served: set[Tracked] = set()
        self.refused = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._address)

    def admit(self, conn: Tracked, address: str) -> str | None:
        """Register a new connection, or say why it is refused."""
        if (
            self.per_address > 0
            and address not in self.exempt
            and self._by_address.get(address, 0) >= self.per_address
        ):
            self.refused += 1
            return Admission.ADDRESS
        if len(self._address) >= self.total and not self._evict_one():
            self.refused += 1
            return Admission.FULL
        self._address[conn] = address
        self._by_address[address] = self._by_address.get(address, 0) + 1
        self._idle_since[conn] = time.monotonic()
        return None

    def busy(self, conn: Tracked) -> None:
        """A request started on this connection."""
        self._idle_since.pop(conn, None)

    def idle(self, conn: Tracked) -> None:
        """Its reply is complete: idle from now (kept alive)."""
        if conn in self._address:
            self._idle_since[conn] = time.monotonic()
            self._served.add(conn)

    def forget(self, conn: Tracked) -> None:
        """The connection is gone."""
        address = self._address.pop(conn, None)
        self._idle_since.pop(conn, None)
        self._served.discard(conn)
        if address is not None:
            left = self._by_address[address] - 1
            if left:
                self._by_address[address] = left
            else:
                del self._by_address[address]

    def _evict_one(self) -> bool:
        # Connections that never completed a request go first (a slow-header client's head
        # is still dribbling in: idle since it opened), oldest first; then kept-alive ones
        # that have been served, oldest first: a device between two calls reconnects cheaply.
        def order(item: tuple[Tracked, float]) -> tuple[bool, float]:
            return item[0] in self._served, item[1]

        for conn, _since in sorted(self._idle_since.items(), key=order):
            if conn.is_idle():
                self.forget(conn)
                conn.close_idle()
                self.evicted += 1
                return True
        return False
