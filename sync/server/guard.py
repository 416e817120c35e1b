"""ASGI middleware in front of every route: body limits, gzip, content type, access log.

Runs before FastAPI parses anything, so an oversized body, a gzip bomb, a wrong content type
or a client that dribbles its body gets a 4xx with a reason and never reaches a handler
(DESIGN §6). The access log carries method, path, status and time only: no query string, no
header, no body.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sync.protocol import ErrorBody, ErrorDetail
from sync.server.settings import ServerSettings

__all__ = ["BodyGuard", "error_bytes"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("fieldkit.server.access")

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_bytes(code: str, message: str) -> bytes:
    """The JSON error body every failure uses: {"error": {"code", "message"}}."""
    return ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump_json().encode()


class BodyGuard:
    """Reads the whole body within limits, un-gzips it within limits, then calls the app."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_box = [0]

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                try:
                    scope, receive = await self._prepare(scope, receive)
                except _Reject as rej:
                    await _send_error(send_logged, rej.status, rej.code, rej.message)
                    return
            await self.app(scope, receive, send_logged)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],  # never the query string
                status_box[0],
                (time.perf_counter() - started) * 1000,
            )

    async def _prepare(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        limit = self.settings.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Reject(400, "bad_request", "invalid Content-Length")
            if int(declared) > limit:
                raise _Reject(413, "too_large", f"request body over {limit} bytes")
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"identity", b"gzip"):
            raise _Reject(415, "unsupported_media_type", "Content-Encoding must be gzip or none")
        try:
            body = await asyncio.wait_for(
                _read_body(receive, limit), timeout=self.settings.body_timeout_seconds
            )
        except TimeoutError:
            raise _Reject(408, "timeout", "request body not received in time") from None
        if encoding == b"gzip" and body:
            body = _gunzip(body, self.settings.max_decompressed_bytes)
        if body:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype != b"application/json":
                raise _Reject(
                    415, "unsupported_media_type", "Content-Type must be application/json"
                )
        new_headers = [
            (k, v)
            for k, v in scope.get("headers", [])
            if k.lower() not in (b"content-length", b"content-encoding")
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


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Reject(400, "bad_request", "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Reject(413, "too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _gunzip(data: bytes, limit: int) -> bytes:
    # max_length bounds each step, so a gzip bomb never expands past the limit in memory.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending:
            chunk = inflater.decompress(pending, limit + 1 - size)
            size += len(chunk)
            out.append(chunk)
            if size > limit:
                raise _Reject(413, "too_large", f"decompressed body over {limit} bytes")
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
            if not chunk and not pending:
                break
    except zlib.error:
        raise _Reject(400, "bad_request", "body is not valid gzip") from None
    if not inflater.eof:
        raise _Reject(400, "bad_request", "gzip body is truncated")
    if inflater.unused_data:
        raise _Reject(400, "bad_request", "data after the end of the gzip body")
    return b"".join(out)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = error_bytes(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
