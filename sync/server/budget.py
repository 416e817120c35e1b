"""A memory budget for request bodies in flight, shared by every request of one server process.

A body costs memory three times over: its bytes as they arrive (after decompression), the
Python objects its JSON becomes, and the models validated from them. The objects dominate for
hostile shapes: measured with tracemalloc, ``[{},{},…]`` takes 24 times its size once parsed,
``{"k1":1,…}`` about 95 bytes per member; a real push (base64 strings) takes 1.4 times. So a
body is charged ``3 × its size + 100 bytes × its JSON nodes`` (counting ``{``, ``[`` and ``,``
bytes, an upper bound that needs no parse), and held until its reply has been sent.

New requests queue in arrival order for what is left; a request that already holds part of
the budget (its body is arriving) goes first when it needs more, so requests in progress
finish and give back rather than wait on newcomers that wait on them. One that cannot be
served within the wait time gets 503 with Retry-After (the client retries later); one larger
than the whole budget could never be served and gets 413. Nothing is allocated past the
budget first.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["BYTES_PER_NODE", "BudgetExceeded", "MemoryBudget", "Reservation", "parse_cost"]

BYTES_PER_NODE = 100
_BODY_FACTOR = 3


class BudgetExceeded(Exception):
    """The reservation could not be made: ``never`` when it is larger than the whole budget."""

    def __init__(self, *, never: bool) -> None:
        super().__init__("over the memory budget")
        self.never = never


def parse_cost(body: bytes) -> int:
    """The memory a JSON body may take once parsed and validated (see the module docstring)."""
    nodes = body.count(b"{") + body.count(b"[") + body.count(b",") + 1
    return _BODY_FACTOR * len(body) + BYTES_PER_NODE * nodes


class MemoryBudget:
    """Bytes shared by all requests; waiters are served first come, first served."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self.peak = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def reservation(self) -> Reservation:
        """A new, empty reservation for one request."""
        return Reservation(self)

    async def _acquire(self, amount: int, *, timeout: float, first: bool) -> None:
        if amount > self.total:
            raise BudgetExceeded(never=True)
        if (first or not self._waiters) and self.used + amount <= self.total:
            self._take(amount)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (amount, future)
        if first:
            self._waiters.appendleft(entry)
        else:
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if future.done() and not future.cancelled():
                return  # granted at the last moment: keep it
            future.cancel()
            raise BudgetExceeded(never=False) from None
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(amount)
            else:
                future.cancel()
            raise
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
                self._wake()

    def _take(self, amount: int) -> None:
        self.used += amount
        self.peak = max(self.peak, self.used)

    def _release(self, amount: int) -> None:
        self.used -= amount
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            amount, future = self._waiters[0]
            if future.done():
                self._waiters.popleft()
                continue
            if self.used + amount > self.total:
                return
            self._waiters.popleft()
            self._take(amount)
            future.set_result(None)


class Reservation:
    """What one request holds; grows as its body arrives, released once at the end."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    async def grow_to(self, amount: int, *, timeout: float) -> None:
        """Hold at least ``amount`` bytes in all (waits; raises BudgetExceeded)."""
        extra = amount - self.held
        if extra <= 0:
            return
        if amount > self._budget.total:
            raise BudgetExceeded(never=True)
        await self._budget._acquire(extra, timeout=timeout, first=self.held > 0)
        self.held += extra

    def release(self) -> None:
        """Give everything back (idempotent)."""
        if self.held:
            held, self.held = self.held, 0
            self._budget._release(held)
