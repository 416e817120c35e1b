"""The HTTP side of sync: one keep-alive session, gzip bodies, timeouts, retries, clear errors.

Retries live here and nowhere else (as in pyodk's transport). Every call on the wire is safe to
repeat except enrolment (a one-time code): pushes are idempotent by record id and bytes, pulls
are reads by cursor. So a call that fails half-way (connection reset, cut response, read
timeout, 502/503/504, 429) is repeated with capped exponential backoff and jitter ("full
jitter", AWS Architecture Blog 2015), while a server that does not answer at all (connection
refused, unknown host, connect timeout) is reported at once — a field worker on a bus must not
wait minutes to learn they are offline (DESIGN §6).

The server is assumed hostile too (DESIGN §3, "Hostile servers get bounded clients"): every
reply is streamed within byte caps (as received and after gzip), its JSON nesting is bounded
before it is parsed, each request has a deadline of its own that a server dripping bytes cannot
stretch, and the client as a whole — one sync — has a deadline. Whatever goes wrong is one
``SyncError`` with a one-line message; text quoted from the server is made inert first.
"""

from __future__ import annotations

import gzip as _gzip
import ipaddress
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fieldkit.errors import (
    AuthError,
    ProtocolError,
    ServerUnreachable,
    SyncError,
    UsageError,
)
from fieldkit.text import one_line
from sync._reply import BadEncoding, TooDeep, TooLarge, Truncated, parse_json, read_body
from sync.protocol import b64decode, b64encode

if TYPE_CHECKING:
    import requests

__all__ = [
    "Deadline",
    "Limits",
    "LinkCut",
    "Retry",
    "SyncClient",
    "Timeouts",
    "check_server_url",
]

_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_USER_AGENT = "fieldkit-sync/1"


_MIB = 1024 * 1024
# What an error reply (4xx/5xx) may cost: enough for the one-line reason, no more.
_ERROR_REPLY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: for the TCP/TLS connection, between bytes of the reply, and for the
    whole of one request (sending, waiting and the whole reply), which no trickle stretches."""

    connect: float = 5.0
    read: float = 60.0
    request: float = 300.0  # the largest reply (16 MiB) over a 1 Mbit/s link: about 135 s


@dataclass(frozen=True)
class Limits:
    """What one server may cost this laptop, however it answers.

    A reply larger than ``reply_bytes`` (after gzip) or ``wire_bytes`` (as received) stops at
    that size, nested deeper than ``json_depth`` is refused before parsing, and the whole life
    of the client — one sync — ends after ``sync_seconds``. The defaults are far above what
    the protocol needs (a pull page of 1,000 typical records is about 3 MB, nested 6 deep; a
    form definition adds two levels per nested group; the server's own request cap is 16 MiB),
    and low enough that the worst reply parses into under 400 MB of Python objects (16 MiB of
    empty lists is the worst case, about 22 bytes of objects per byte).
    """

    reply_bytes: int = 16 * _MIB
    wire_bytes: int = 16 * _MIB
    json_depth: int = 100
    sync_seconds: float = 3600.0


@dataclass(frozen=True)
class Deadline:
    """The instant (on the monotonic clock) by which every call of a client must be over."""

    at: float
    seconds: float  # how long it was set for, to name in the message

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(at=time.monotonic() + seconds, seconds=seconds)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    @property
    def passed(self) -> bool:
        """True once the deadline is behind us."""
        return self.remaining() <= 0


@dataclass(frozen=True)
class Retry:
    """How often and how long to retry a call that failed half-way."""

    attempts: int = 6  # tries in all, the first included
    base: float = 0.2  # seconds before the first retry (before jitter)
    cap: float = 10.0  # no single wait longer than this
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)]."""
        return random.uniform(0, min(self.cap, self.base * (2**attempt)))  # noqa: S311


def _is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"} or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_server_url(url: str, *, insecure_http: bool = False) -> str:
    """Normalise a server address; plain http only to this machine or when explicitly allowed."""
    url = url.strip().rstrip("/")
    bad = UsageError("the server address must look like https://host[:port]")
    try:
        parts = urlsplit(url)
        _ = parts.port  # urlsplit checks the [IPv6] brackets, .port the digits and range
    except ValueError:
        raise bad from None
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise bad
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError("the server address must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not insecure_http and not _is_loopback(parts.hostname):
        raise UsageError(
            "plain http would send the device token unencrypted; use https "
            "(or --insecure-http on a trusted network)"
        )
    return url


class _Transient(Exception):
    """A failure worth retrying; ``reason`` is shown if the retries run out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LinkCut(SyncError):
    """A call that failed half-way and was not retried (``retry=False``): the caller decides
    what to send next (``exchange._push`` re-sizes its batches after a cut)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class SyncClient:
    """One server, one token, one keep-alive session. Raises SyncError subclasses only."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        insecure_http: bool = False,
        ca_bundle: str | None = None,
        timeouts: Timeouts | None = None,
        retry: Retry | None = None,
        limits: Limits | None = None,
        deadline: Deadline | None = None,
        waiting: int = 0,
        gzip_min_bytes: int = 1024,
        gzip_level: int = 1,
    ) -> None:
        import requests

        from sync._watchdog import WatchedAdapter

        self.base_url = check_server_url(base_url, insecure_http=insecure_http)
        self.token = token
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or Retry()
        self.limits = limits or Limits()
        # One client is one sync: its deadline runs from here unless the caller shares one.
        self.deadline = deadline or Deadline.after(self.limits.sync_seconds)
        # How many records wait to be sent: named in the "unreachable" message.
        self.waiting = waiting
        self.gzip_min_bytes = gzip_min_bytes
        self.gzip_level = gzip_level
        self.bytes_sent = 0
        self.bytes_received = 0  # as received on the wire
        self._count_lock = threading.Lock()  # pushes may run in two threads (exchange._push)
        self._session = requests.Session()
        # Verification stays on: a CA bundle may be named, never switched off.
        self._session.verify = ca_bundle or True
        self._session.trust_env = False  # no proxy or netrc from the environment sees the token
        # Level 1: envelopes are mostly ciphertext; higher levels save ~3% for 2-3x the CPU.
        adapter = WatchedAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {
                "User-Agent": _USER_AGENT,
                "Accept": "application/json",
                # gzip only: the one encoding read_body inflates within its caps.
                "Accept-Encoding": "gzip",
            }
        )

    # --- the calls of the protocol (DESIGN §6, sync/protocol.py) --------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /v1/health``: liveness, version, protocol and the server's clock."""
        return self._call("GET", "/v1/health", auth=False)

    def enroll(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/enroll`` with a one-time code; not retried once the request went out."""
        return self._call("POST", "/v1/enroll", json_body=body, auth=False, idempotent=False)

    def create_project(self, body: dict[str, Any], *, admin_token: str) -> dict[str, Any]:
        """``POST /v1/projects`` with the admin token; not retried once the request went out."""
        return self._call(
            "POST", "/v1/projects", json_body=body, bearer=admin_token, idempotent=False
        )

    def push(
        self, envelopes: Sequence[bytes], *, path: str = "/v1/push", retry: bool = True
    ) -> list[dict[str, Any]]:
        """``POST /v1/push`` of canonical envelope bytes; one result per envelope, in order
        (``path="/v1/relay"``: other devices' envelopes carried here by bundle).

        ``retry=False``: one attempt; a cut or a busy server raises ``LinkCut`` at once."""
        # The envelopes are already canonical JSON: splice them in rather than re-encode.
        raw = b'{"envelopes":[' + b",".join(envelopes) + b"]}"
        reply = self._call("POST", path, raw_body=raw, attempts=None if retry else 1)
        results = reply.get("results")
        if not isinstance(results, list) or len(results) != len(envelopes):
            raise ProtocolError("the server's push reply does not match the batch sent")
        for item in results:
            if not isinstance(item, dict) or item.get("status") not in {
                "created",
                "duplicate",
                "conflict",
                "rejected",
            }:
                raise ProtocolError("the server's push reply has an unknown result")
            if "reason" in item:
                # The server's words, shown to the user later: one inert line (fieldkit.text).
                item["reason"] = one_line(str(item["reason"]))
        return results

    def pull(self, *, cursor: str, limit: int, only: str | None = None) -> dict[str, Any]:
        """``GET /v1/pull``: the changes after ``cursor``, ``next_cursor`` and ``has_more``
        (``only="statement"``: signed statements alone, to read them again)."""
        while True:
            params = {"cursor": cursor, "limit": str(limit)}
            if only is not None:
                params["only"] = only
            try:
                reply = self._call("GET", "/v1/pull", params=params)
                break
            except _TooLarge:
                # Large records can make a page pass the cap: ask for fewer changes (the feed
                # goes on from next_cursor either way); one change over the cap is an error.
                if limit <= 1:
                    raise
                limit = max(1, limit // 4)
        if (
            not isinstance(reply.get("changes"), list)
            or not isinstance(reply.get("next_cursor"), str)
            or not isinstance(reply.get("has_more"), bool)
        ):
            raise ProtocolError("the server's pull reply does not follow the protocol")
        return reply

    def attachment_status(self, attachment_id: str) -> int:
        """``GET /v1/attachments/{id}``: how many bytes of this device's sealed attachment the
        server holds (0 when none)."""
        reply = self._call("GET", f"/v1/attachments/{_attachment_id(attachment_id)}")
        return _held(reply)

    def push_attachment_part(self, attachment_id: str, *, offset: int, data: bytes) -> int:
        """``POST /v1/attachments/{id}``: the sealed bytes from ``offset``; returns how many
        bytes the server holds now (where the next part starts)."""
        body = {"offset": offset, "data": b64encode(data)}
        raw = json.dumps(body, separators=(",", ":")).encode("ascii")
        # Ciphertext in base64 gains little from gzip: sent as it is.
        reply = self._call(
            "POST", f"/v1/attachments/{_attachment_id(attachment_id)}", raw_body=raw, gzip=False
        )
        return _held(reply)

    def attachment_piece(
        self, device_id: str, attachment_id: str, *, offset: int, length: int
    ) -> bytes:
        """``GET /v1/attachments/{device}/{id}``: up to ``length`` sealed bytes from ``offset``
        of a complete attachment (coordinator)."""
        reply = self._call(
            "GET",
            f"/v1/attachments/{quote(device_id, safe='')}/{_attachment_id(attachment_id)}",
            params={"offset": str(offset), "length": str(length)},
        )
        try:
            data = b64decode(str(reply["data"]))
        except (KeyError, ValueError):
            raise ProtocolError("the server's attachment reply could not be read") from None
        if reply.get("offset") != offset or not data or len(data) > length:
            raise ProtocolError("the server's attachment reply is not the piece asked for")
        return data

    def publish_form(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/forms`` (coordinator)."""
        return self._call("POST", "/v1/forms", json_body=body)

    def devices(self) -> list[dict[str, Any]]:
        """``GET /v1/devices`` (coordinator): the project's devices and their public keys."""
        reply = self._call("GET", "/v1/devices")
        devices = reply.get("devices")
        if not isinstance(devices, list):
            raise ProtocolError("the server's device list does not follow the protocol")
        return devices

    def grant_key(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/key-grants`` (coordinator): the project keys sealed to a coordinator."""
        return self._call("POST", "/v1/key-grants", json_body=body)

    def post_statement(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/statements`` (coordinator): a statement it signed (and a definition)."""
        return self._call("POST", "/v1/statements", json_body=body)

    def fetch_envelopes(self, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
        """``POST /v1/envelopes/fetch`` (coordinator): envelopes by (device_id, record_id)."""
        reply = self._call("POST", "/v1/envelopes/fetch", json_body={"refs": refs})
        found = reply.get("envelopes")
        if not isinstance(found, list):
            raise ProtocolError("the server's envelope list does not follow the protocol")
        return found

    def enrolments(self) -> list[dict[str, Any]]:
        """``GET /v1/enrolments`` (coordinator): devices waiting for a certificate."""
        reply = self._call("GET", "/v1/enrolments")
        items = reply.get("enrolments")
        if not isinstance(items, list):
            raise ProtocolError("the server's enrolment list does not follow the protocol")
        return items

    def refuse_enrolment(self, device_id: str) -> None:
        """``POST /v1/enrolments/refuse`` (coordinator): keys that do not match their code."""
        self._call("POST", "/v1/enrolments/refuse", json_body={"device_id": device_id})

    def upgrade_identity(self, body: dict[str, Any]) -> None:
        """``POST /v1/projects/identity`` (coordinator): a signing identity for an old project."""
        self._call("POST", "/v1/projects/identity", json_body=body, idempotent=False)

    # --- admin calls (sync.admin), with the admin token -------------------------------------

    def admin_devices(self, *, admin_token: str) -> dict[str, Any]:
        """``GET /v1/admin/devices``: every device the server knows."""
        return self._call("GET", "/v1/admin/devices", bearer=admin_token)

    def revoke_device(self, device_id: str, *, admin_token: str) -> dict[str, Any]:
        """``POST /v1/admin/devices/ID/revoke``; repeating it changes nothing, so it is retried."""
        path = f"/v1/admin/devices/{quote(device_id, safe='')}/revoke"
        return self._call("POST", path, bearer=admin_token)

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._session.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- clock -------------------------------------------------------------------------------

    @staticmethod
    def clock_offset(reply: dict[str, Any], *, sent_at: float, received_at: float) -> float:
        """Seconds the server's clock is ahead of ours, from a reply carrying ``server_time``."""
        text = reply.get("server_time")
        if not isinstance(text, str):
            raise ProtocolError("the server did not say its time")
        try:
            server = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ProtocolError("the server's time is not ISO 8601") from None
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        # The reply was made somewhere between sending and receiving: take the midpoint.
        return server.timestamp() - (sent_at + received_at) / 2

    # --- the one place HTTP happens ----------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        raw_body: bytes | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        bearer: str | None = None,
        idempotent: bool = True,
        gzip: bool = True,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        token = bearer or (self.token if auth else None)
        if auth and not token:
            raise SyncError("this workspace is not enrolled with a server")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data: bytes | None = None
        if json_body is not None:
            raw_body = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
        if raw_body is not None:
            headers["Content-Type"] = "application/json"
            data = raw_body
            if gzip and len(raw_body) >= self.gzip_min_bytes:
                data = _gzip.compress(raw_body, compresslevel=self.gzip_level, mtime=0)
                headers["Content-Encoding"] = "gzip"
        url = self.base_url + path
        # A 401 answers for the token that was sent: the admin token, or this device's.
        admin = bearer is not None
        attempt = 0
        while True:
            if self.deadline.passed:
                raise self._out_of_time()
            try:
                return self._once(
                    method, url, headers=headers, data=data, params=params, admin=admin
                )
            except _Transient as exc:
                attempt += 1
                if attempts is not None and attempt >= attempts:
                    raise LinkCut(self._kept_failing(exc.reason), exc.reason) from None
                if attempt >= self.retry.attempts or not idempotent:
                    raise SyncError(self._kept_failing(exc.reason)) from None
                self.wait_to_retry(attempt)

    def wait_to_retry(self, attempt: int) -> None:
        """Sleep before retry number ``attempt`` (jittered backoff); SyncError instead when the
        sync's deadline would pass first."""
        delay = self.retry.delay(attempt)
        if delay >= self.deadline.remaining():
            raise self._out_of_time() from None
        self.retry.sleep(delay)

    def _kept_failing(self, reason: str) -> str:
        return (
            f"the connection to the server kept failing ({reason}); "
            f"{self._waiting_text()} — try again later"
        )

    def _waiting_text(self) -> str:
        n = self.waiting
        return f"{n} record{'' if n == 1 else 's'} waiting"

    def _once(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        data: bytes | None,
        params: dict[str, str] | None,
        admin: bool,
    ) -> dict[str, Any]:
        import requests

        from sync._watchdog import Watchdog

        # The request's own deadline, or the sync's when that comes first.
        seconds = min(self.timeouts.request, self.deadline.remaining())
        sync_bound = seconds < self.timeouts.request
        with Watchdog(seconds) as watchdog:
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    params=params,
                    timeout=(self.timeouts.connect, self.timeouts.read),
                    allow_redirects=False,
                    stream=True,  # the body is read here, within the caps
                )
            except requests.exceptions.RequestException as exc:
                if watchdog.fired:  # whatever broke, the deadline cut the socket under it
                    raise self._too_slow(seconds, sync_bound=sync_bound) from None
                raise self._failure(exc) from None
            try:
                status = response.status_code
                ok = 200 <= status < 300
                body, wire = self._read(response, ok=ok)
            except _Transient:
                if watchdog.fired:
                    raise self._too_slow(seconds, sync_bound=sync_bound) from None
                raise
            finally:
                response.close()  # a reply left half-read closes its connection
            if watchdog.fired:
                # The socket was cut under the reply: what was read may look complete, it is not.
                raise self._too_slow(seconds, sync_bound=sync_bound)
        with self._count_lock:
            self.bytes_sent += len(data or b"")
            self.bytes_received += wire
        if status in _TRANSIENT_STATUS or status >= 500:
            raise _Transient(f"server answered {status}")
        try:
            parsed = parse_json(body, max_depth=self.limits.json_depth) if body else None
        except TooDeep:
            raise ProtocolError(
                f"the server's reply is nested more than {self.limits.json_depth} levels deep"
            ) from None
        except ValueError:  # not JSON, not UTF-8
            parsed = None
        if not isinstance(parsed, dict):
            parsed = None
        if ok:
            if parsed is None:
                # A 2xx reply that is not a JSON object was cut or mangled in transit: ask again.
                raise _Transient("reply cut short")
            return parsed
        raise _http_error(status, parsed, url=url, admin=admin)

    def _read(self, response: requests.Response, *, ok: bool) -> tuple[bytes, int]:
        """The body of ``response`` within the caps: the limits for a 2xx reply, a few KiB
        (the one-line reason) for any other; ``(body, bytes on the wire)``."""
        import http.client

        from urllib3.exceptions import HTTPError, ReadTimeoutError

        wire_cap = self.limits.wire_bytes if ok else _ERROR_REPLY_BYTES
        body_cap = self.limits.reply_bytes if ok else _ERROR_REPLY_BYTES
        try:
            return read_body(
                response.raw,
                encoding=response.headers.get("Content-Encoding", ""),
                length=response.headers.get("Content-Length", ""),
                wire_cap=wire_cap,
                body_cap=body_cap,
            )
        except TooLarge as exc:
            if not ok:
                return b"", wire_cap  # an error reply's reason is not worth more
            raise _TooLarge(_too_large_text(exc.cap, decompressed=exc.decompressed)) from None
        except BadEncoding as exc:
            if not ok:
                return b"", 0
            raise ProtocolError(f"the server's reply could not be read: {exc}") from None
        except (Truncated, HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            if isinstance(exc, ReadTimeoutError):
                raise _Transient("no reply in time") from None
            raise _Transient("reply cut short") from None

    def _failure(self, exc: requests.exceptions.RequestException) -> Exception:
        """The error (or retry, ``_Transient``) for a request that failed before its body."""
        import requests

        if isinstance(exc, requests.exceptions.SSLError):
            return SyncError(
                "the server's TLS certificate could not be verified; check the address, or "
                "ask the server's admin (fieldkit never connects without verifying it)"
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.InvalidURL):
            return self._unreachable()
        if isinstance(exc, requests.exceptions.ConnectionError):
            if _never_connected(exc):
                return self._unreachable()
            return _Transient("connection lost")
        if isinstance(exc, requests.exceptions.Timeout):
            return _Transient("no reply in time")
        return _Transient("reply cut short")

    def _too_slow(self, seconds: float, *, sync_bound: bool) -> SyncError:
        if sync_bound:
            return self._out_of_time()
        return SyncError(
            f"the server took more than {_span(seconds)} to answer one request; "
            f"{self._waiting_text()} — try again later"
        )

    def _out_of_time(self) -> SyncError:
        return SyncError(
            f"this sync ran past its limit of {_span(self.deadline.seconds)} and was stopped; "
            f"{self._waiting_text()} — run it again to continue"
        )

    def _unreachable(self) -> ServerUnreachable:
        host = urlsplit(self.base_url).netloc
        return ServerUnreachable(f"server unreachable ({host}); {self._waiting_text()}")


class _TooLarge(ProtocolError):
    """A reply over the size caps (``pull`` asks for a smaller page on it)."""


def _too_large_text(cap: int, *, decompressed: bool) -> str:
    when = " once decompressed" if decompressed else ""
    return f"the server's reply is larger than {_size(cap)}{when}; it was not read"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} minutes"


def _size(n: int) -> str:
    if n >= _MIB and n % _MIB == 0:
        return f"{n // _MIB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when no TCP connection was made at all (refused, unknown host, no route)."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    cause: BaseException | None = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, NewConnectionError | NameResolutionError)


def _attachment_id(text: str) -> str:
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        raise ProtocolError("not an attachment id")
    return text


def _held(reply: dict[str, Any]) -> int:
    held = reply.get("received")
    if not isinstance(held, int) or isinstance(held, bool) or held < 0:
        raise ProtocolError("the server's attachment reply could not be read")
    return held


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _http_error(
    status: int, parsed: dict[str, Any] | None, *, url: str, admin: bool = False
) -> SyncError:
    detail = parsed.get("error") if parsed else None
    code = str(detail.get("code", "")) if isinstance(detail, dict) else ""
    message = str(detail.get("message", "")) if isinstance(detail, dict) else ""
    # Written by the server, which may be hostile: one short line of inert text (fieldkit.text).
    code, message = one_line(code, limit=60), one_line(message)
    if status == 401:
        if admin:
            return AuthError("the server refused the admin token")
        if code == "enrolment_code_refused":
            return AuthError(
                "the server does not know this enrolment code, or it was used or has expired: "
                "ask your coordinator for a new one"
            )
        if code in {"revoked", "device_revoked"} or "revoked" in message:
            return AuthError(
                "this device's access was revoked; ask your coordinator to enrol it again"
            )
        return AuthError(
            "the server refused this device's token (revoked, or enrolled with another server)"
        )
    if status == 403:
        if "project" in (code + message):
            return AuthError(f"wrong project: {message or 'the server refused the project'}")
        return AuthError(f"not allowed: {message or 'this device lacks the role for that'}")
    if status == 404 and parsed is None:
        return ProtocolError(f"{urlsplit(url).netloc} does not look like a fieldkit server")
    if status == 413:
        # The reason says which limit (a body, a batch, a device's attachment quota).
        return ProtocolError(
            "the server refused a request as too large" + (f": {message}" if message else "")
        )
    reason = message or code or f"HTTP {status}"
    return ProtocolError(f"the server refused the request: {reason}")
