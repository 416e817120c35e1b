"""ASGI middleware in front of every route: who is calling, body limits, gzip, access log.

It runs before FastAPI reads anything (DESIGN §6, issue 14), in this order:
1. Content-Length, Content-Encoding and Content-Type are checked from the headers alone.
2. A bearer token is authenticated before a single byte of the body is read: an unknown or
   revoked token gets 401 and the connection is closed, and so does a body without a token
   anywhere but enrolment (a gzip bomb costs the server its headers only). Enrolment without
   a token may send only `max_anonymous_body_bytes`.
3. The body is read with deadlines (a pause, and a floor on the rate once
   `body_timeout_seconds` have passed: 408) and un-gzipped as it streams, capped in bytes and
   in ratio, each step charged to the server's memory budget (sync/server/budget.py): a
   request that does not fit waits, then gets 503 with Retry-After.
4. Only then does the route see the body, already decompressed.
The access log carries method, route, status and time only (sync/server/logline.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from fieldkit.errors import FieldkitError
from sync.protocol import ErrorBody, ErrorDetail
from sync.server.budget import BudgetExceeded, MemoryBudget, Reservation, parse_cost
from sync.server.errors import status_of
from sync.server.logline import path_for_log
from sync.server.settings import ServerSettings

__all__ = ["CALLER_KEY", "BodyGuard", "error_bytes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authenticator = Callable[[str], object]

# Where the caller authenticated here waits for the route (scope["state"][CALLER_KEY]).
CALLER_KEY = "fieldkit.caller"

access_log = logging.getLogger("fieldkit.server.access")
log = logging.getLogger("fieldkit.server")

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The one route that takes a body without a token (it spends a one-time code). A body sent
# anywhere else without one is refused from its headers: not a byte of it is read or inflated.
_ANONYMOUS_BODY_PATHS = frozenset({"/v1/enroll"})
_STEP = 256 * 1024  # decompressed bytes per inflate step; the loop may run between steps
_RATIO_FLOOR = 64 * 1024  # below this many decompressed bytes the ratio is not judged


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str, *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after


def error_bytes(code: str, message: str) -> bytes:
    """The JSON error body every failure uses: {"error": {"code", "message"}}."""
    return ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump_json().encode()


@dataclass(frozen=True)
class _Limits:
    wire: int
    decompressed: int


class BodyGuard:
    """Authenticates, then reads the body within limits and budget, then calls the app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServerSettings,
        budget: MemoryBudget,
        authenticator: Authenticator,
        storage_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.app = app
        self.settings = settings
        self.budget = budget
        self.authenticator = authenticator
        self.storage_errors = storage_errors
        anonymous = settings.max_anonymous_body_bytes
        self._anonymous = _Limits(
            min(anonymous, settings.max_body_bytes),
            min(anonymous, settings.max_decompressed_bytes),
        )
        self._authenticated = _Limits(settings.max_body_bytes, settings.max_decompressed_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_box = [0]
        inner = scope
        reservation = self.budget.reservation()

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                try:
                    inner, receive = await self._prepare(scope, receive, reservation)
                except _Reject as rej:
                    await _send_error(send_logged, rej)
                    return
            await self.app(inner, receive, send_logged)
        finally:
            reservation.release()
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                path_for_log(inner),  # the route template; never the query string
                status_box[0],
                (time.perf_counter() - started) * 1000,
            )

    async def _prepare(
        self, scope: Scope, receive: Receive, reservation: Reservation
    ) -> tuple[Scope, Receive]:
        headers: dict[bytes, bytes] = {}
        for key, value in scope.get("headers", []):
            headers[key.lower()] = value
        declared = _content_length(headers)
        has_body = bool(declared) or b"transfer-encoding" in headers
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"identity", b"gzip"):
            raise _Reject(415, "unsupported_media_type", "Content-Encoding must be gzip or none")
        if has_body:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype != b"application/json":
                raise _Reject(
                    415, "unsupported_media_type", "Content-Type must be application/json"
                )
        limits = self._anonymous
        authorization = headers.get(b"authorization")
        if authorization is None and has_body and scope.get("path") not in _ANONYMOUS_BODY_PATHS:
            raise _Reject(401, "unauthorized", "missing bearer token")
        if authorization is not None:
            caller = await self._authenticate(authorization)
            scope = dict(scope)
            scope["state"] = {**scope.get("state", {}), CALLER_KEY: caller}
            limits = self._authenticated
        if declared is not None and declared > limits.wire:
            raise _Reject(413, "too_large", _too_large(limits.wire, authorization is None))
        if declared:
            # The declared size at once, so most bodies wait for the budget only once.
            try:
                await reservation.grow_to(declared, timeout=self.settings.budget_wait_seconds)
            except BudgetExceeded as exc:
                raise _budget_reject(exc) from None
        body = await self._read(receive, limits, gzip=encoding == b"gzip", held=reservation)
        if body:
            try:
                await reservation.grow_to(
                    parse_cost(body), timeout=self.settings.budget_wait_seconds
                )
            except BudgetExceeded as exc:
                raise _budget_reject(exc) from None
        new_headers = [
            (k, v)
            for k, v in scope.get("headers", [])
            if k.lower() not in (b"content-length", b"content-encoding", b"transfer-encoding")
        ]
        new_headers.append((b"content-length", str(len(body)).encode()))
        scope = dict(scope)
        scope["headers"] = new_headers
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # waits for http.disconnect

        return scope, replay

    async def _authenticate(self, authorization: bytes) -> object:
        try:
            header = authorization.decode("latin-1")
            return await anyio.to_thread.run_sync(self.authenticator, header)
        except FieldkitError as exc:
            status, code = status_of(exc)
            raise _Reject(status, code, str(exc)) from None
        except self.storage_errors as exc:
            log.error("storage error: %s", exc.__class__.__name__)
            raise _Reject(
                503, "storage_unavailable", "storage unavailable; try again", retry_after=2
            ) from None

    async def _read(
        self, receive: Receive, limits: _Limits, *, gzip: bool, held: Reservation
    ) -> bytes:
        settings = self.settings
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if gzip else None
        out: list[bytes] = []
        wire = size = 0
        started = time.monotonic()
        while True:
            message = await self._next_chunk(receive, started=started, received=wire)
            if message["type"] == "http.disconnect":
                raise _Reject(400, "bad_request", "client disconnected")
            chunk = message.get("body", b"")
            wire += len(chunk)
            if wire > limits.wire:
                raise _Reject(413, "too_large", _too_large(limits.wire, limits is self._anonymous))
            more = bool(message.get("more_body", False))
            if inflater is None:
                if chunk:
                    out.append(chunk)
                    size += len(chunk)
            else:
                size = await self._inflate(inflater, chunk, out, size, wire=wire, limits=limits)
            try:
                await held.grow_to(size, timeout=settings.budget_wait_seconds)
            except BudgetExceeded as exc:
                raise _budget_reject(exc) from None
            if not more:
                break
        if inflater is not None and wire:
            if not inflater.eof:
                raise _Reject(400, "bad_request", "gzip body is truncated")
            if inflater.unused_data:
                raise _Reject(400, "bad_request", "data after the end of the gzip body")
        return b"".join(out)

    async def _next_chunk(self, receive: Receive, *, started: float, received: int) -> Message:
        settings = self.settings
        while True:
            elapsed = time.monotonic() - started
            late = elapsed > settings.body_timeout_seconds
            if late and received < settings.body_min_bytes_per_second * elapsed:
                raise _Reject(408, "timeout", "request body not received in time")
            wait = settings.body_idle_seconds
            if not late:
                # Wake at the overall deadline too, to judge the rate there.
                wait = min(wait, settings.body_timeout_seconds - elapsed + 0.01)
            try:
                return await asyncio.wait_for(receive(), timeout=wait)
            except TimeoutError:
                if wait >= settings.body_idle_seconds:
                    raise _Reject(408, "timeout", "request body not received in time") from None

    async def _inflate(
        self,
        inflater: Any,
        chunk: bytes,
        out: list[bytes],
        size: int,
        *,
        wire: int,
        limits: _Limits,
    ) -> int:
        # max_length bounds each step, so a gzip bomb never expands past a limit in memory.
        pending = chunk
        ratio = self.settings.max_decompression_ratio
        while True:
            try:
                piece = inflater.decompress(pending, _STEP)
            except zlib.error:
                raise _Reject(400, "bad_request", "body is not valid gzip") from None
            size += len(piece)
            if size > limits.decompressed:
                raise _Reject(
                    413, "too_large", f"decompressed body over {limits.decompressed} bytes"
                )
            consumed = wire - len(inflater.unconsumed_tail)
            if size > _RATIO_FLOOR and size > ratio * max(consumed, 1):
                raise _Reject(
                    413, "too_large", f"body expands more than {ratio} times when decompressed"
                )
            if piece:
                out.append(piece)
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and len(piece) < _STEP):
                return size
            await asyncio.sleep(0)  # let other requests run between steps


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    declared = headers.get(b"content-length")
    if declared is None:
        return None
    if not declared.isdigit() or len(declared) > 18:
        raise _Reject(400, "bad_request", "invalid Content-Length")
    return int(declared)


def _too_large(limit: int, anonymous: bool) -> str:
    if anonymous:
        return f"request body over {limit} bytes (the limit without a token)"
    return f"request body over {limit} bytes"


def _budget_reject(exc: BudgetExceeded) -> _Reject:
    if exc.never:
        return _Reject(413, "too_large", "request body too large for this server to process")
    return _Reject(503, "busy", "server busy; try again shortly", retry_after=2)


async def _send_error(send: Send, rej: _Reject) -> None:
    body = error_bytes(rej.code, rej.message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The body may be unread: close rather than read on to the next request.
        (b"connection", b"close"),
    ]
    if rej.retry_after:
        headers.append((b"retry-after", str(rej.retry_after).encode()))
    await send({"type": "http.response.start", "status": rej.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
