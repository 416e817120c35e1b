"""A server's reply read as if the server were hostile: bounded bytes, bounded gzip, bounded depth.

The client assumes a breached server (DESIGN §3, "Hostile servers get bounded clients"): it may
send an endless body, a small gzip stream that inflates to gigabytes, or JSON nested a hundred
thousand deep (CPython's parser recurses once per level). So the body is streamed and counted as
it arrives, inflated step by step with ``max_length`` so a bomb never grows past the cap in
memory, and its nesting is measured on the raw bytes before any parser sees it.
"""

from __future__ import annotations

import json
import re
import zlib
from itertools import accumulate
from typing import Any, Protocol

__all__ = ["BadEncoding", "TooDeep", "TooLarge", "parse_json", "read_body"]

_CHUNK = 64 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream
_IDENTITY = frozenset({"", "identity"})
_GZIP = frozenset({"gzip", "x-gzip"})


class TooLarge(Exception):
    """A body past ``cap`` bytes; ``decompressed`` when it was the cap after gzip."""

    def __init__(self, *, cap: int, decompressed: bool) -> None:
        super().__init__(f"over {cap} bytes{' decompressed' if decompressed else ''}")
        self.cap = cap
        self.decompressed = decompressed


class BadEncoding(Exception):
    """A content encoding that was not asked for, or gzip that does not inflate."""


class Truncated(Exception):
    """A gzip stream that stopped before its end: the connection was cut."""


class TooDeep(Exception):
    """JSON nested deeper than allowed."""


class RawBody(Protocol):
    """What is read of a streamed reply (urllib3's ``HTTPResponse``)."""

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes: ...


class _Gunzip:
    """Inflates gzip members one after another (RFC 1952 §2.2), never past ``cap`` bytes."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.out = bytearray()
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._started = False  # the current member has had input

    def feed(self, data: bytes) -> None:
        while data:
            self._started = True
            try:
                # At most one byte past the cap per step: a bomb stops here, never in memory.
                piece = self._inflater.decompress(data, self.cap - len(self.out) + 1)
            except zlib.error:
                raise BadEncoding("the reply is not valid gzip") from None
            self.out += piece
            if len(self.out) > self.cap:
                raise TooLarge(cap=self.cap, decompressed=True)
            if self._inflater.eof:
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
                self._started = False
            else:
                # Only non-empty when max_length stopped the step, which raised above.
                data = self._inflater.unconsumed_tail

    def finish(self) -> bytes:
        if self._started:
            raise Truncated
        return bytes(self.out)


def read_body(
    raw: RawBody, *, encoding: str, length: str, wire_cap: int, body_cap: int
) -> tuple[bytes, int]:
    """The reply's body, decoded, and how many bytes came over the wire.

    Raises ``TooLarge`` past ``wire_cap`` bytes received or ``body_cap`` bytes decoded (at once
    when the reply's ``Content-Length``, ``length``, announces more),
    ``BadEncoding`` for an encoding other than identity or gzip (the only one asked for) or for
    gzip that does not inflate, ``Truncated`` for a gzip stream cut before its end.
    """
    encoding = encoding.strip().lower()
    if encoding not in _IDENTITY and encoding not in _GZIP:
        raise BadEncoding("the reply uses an encoding that was not asked for")
    gunzip = _Gunzip(body_cap) if encoding in _GZIP else None
    plain = bytearray()
    wire = 0
    limit = wire_cap if gunzip else min(wire_cap, body_cap)
    if length.strip().isdigit() and int(length) > limit:
        raise TooLarge(cap=limit, decompressed=False)
    while True:
        # The reply's own bytes, not urllib3's decoding: inflating is done here, within caps.
        chunk = raw.read(_CHUNK, decode_content=False)
        if not chunk:
            break
        wire += len(chunk)
        if wire > limit:
            raise TooLarge(cap=limit, decompressed=False)
        if gunzip:
            gunzip.feed(chunk)
        else:
            plain += chunk
    return (gunzip.finish() if gunzip else bytes(plain)), wire


# A JSON string, escapes included; possessive, so an unterminated one costs one linear scan.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
# Openers become +1, closers -1 (as signed bytes), everything else goes.
_STEPS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_SYNTAX = bytes(b for b in range(256) if b not in b'"[]{}')


def _check_nesting(body: bytes, limit: int) -> None:
    """Refuse JSON text nested deeper than ``limit`` levels, before a parser recurses into it.

    Only quotes and brackets matter: without escapes, every quote opens or closes a string, and
    dropping two adjacent quotes (an empty string, or one string's end next to the next one's
    start) leaves every other byte inside or outside a string as it was. What remains are the
    brackets, as +1/-1 steps summed up in C (``itertools.accumulate`` over a signed-byte view)
    a chunk at a time: a reply that is one long run of brackets costs about a second per 32 MiB,
    the usual page a millisecond per MB.
    """
    if b"\\" in body:
        outside = _STRING.sub(b"", body)  # escapes: the exact (slower) lexer
    else:
        skeleton = body.translate(None, _NOT_SYNTAX).replace(b'""', b"")
        # Quotes left enclose brackets inside strings (rare): take every second piece.
        outside = b"".join(skeleton.split(b'"')[::2]) if b'"' in skeleton else skeleton
    steps = memoryview(outside.translate(_STEPS, _NOT_BRACKETS)).cast("b")
    depth = 0
    for start in range(0, len(steps), _CHUNK):
        chunk = steps[start : start + _CHUNK]
        if max(accumulate(chunk, initial=depth)) > limit:
            raise TooDeep
        depth += sum(chunk)


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """The JSON value of ``body``; ``TooDeep`` past ``max_depth`` levels, ``ValueError`` if not
    JSON (UTF-8 only: no guessing of other encodings)."""
    _check_nesting(body, max_depth)
    return json.loads(body.decode("utf-8"))
