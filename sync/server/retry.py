"""Writing transactions, retried when the database asks for it (deadlock, busy).

PostgreSQL may abort one of two transactions that wait on each other (SQLSTATE 40P01) or fail
a serialization (40001); SQLite may still answer `database is locked` past its busy timeout.
Both are safe to retry from the start because the whole transaction rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

__all__ = ["in_transaction"]

T = TypeVar("T")

_RETRYABLE_SQLSTATES = {"40P01", "40001"}
_ATTEMPTS = 5


def _retryable(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work(conn)` in one write transaction, re-run whole on deadlock or lock timeout."""
    for attempt in range(_ATTEMPTS):
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt + 1 == _ATTEMPTS or not _retryable(exc):
                raise
            time.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable")
