"""The HTTP side of sync: one keep-alive session, gzip bodies, timeouts, retries, clear errors.

Retries live here and nowhere else (as in pyodk's transport). Every call on the wire is safe to
repeat except enrolment (a one-time code): pushes are idempotent by record id and bytes, pulls
are reads by cursor. So a call that fails half-way (connection reset, cut response, read
timeout, 502/503/504, 429) is repeated with capped exponential backoff and jitter ("full
jitter", AWS Architecture Blog 2015), while a server that does not answer at all (connection
refused, unknown host, connect timeout) is reported at once — a field worker on a bus must not
wait minutes to learn they are offline (DESIGN §6).
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fieldkit.errors import (
    AuthError,
    ProtocolError,
    ServerUnreachable,
    SyncError,
    UsageError,
)

if TYPE_CHECKING:
    import requests

__all__ = [
    "Retry",
    "SyncClient",
    "Timeouts",
    "check_server_url",
]

_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_USER_AGENT = "fieldkit-sync/1"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: for the TCP/TLS connection, and between bytes of the reply."""

    connect: float = 5.0
    read: float = 60.0


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
        waiting: int = 0,
        gzip_min_bytes: int = 1024,
        gzip_level: int = 1,
    ) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.base_url = check_server_url(base_url, insecure_http=insecure_http)
        self.token = token
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or Retry()
        # How many records wait to be sent: named in the "unreachable" message.
        self.waiting = waiting
        self.gzip_min_bytes = gzip_min_bytes
        self.gzip_level = gzip_level
        self.bytes_sent = 0
        self.bytes_received = 0
        self._count_lock = threading.Lock()  # pushes may run in two threads (exchange._push)
        self._session = requests.Session()
        # Verification stays on: a CA bundle may be named, never switched off.
        self._session.verify = ca_bundle or True
        self._session.trust_env = False  # no proxy or netrc from the environment sees the token
        # Level 1: envelopes are mostly ciphertext; higher levels save ~3% for 2-3x the CPU.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"User-Agent": _USER_AGENT, "Accept": "application/json"})

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

    def push(self, envelopes: Sequence[bytes]) -> list[dict[str, Any]]:
        """``POST /v1/push`` of canonical envelope bytes; one result per envelope, in order."""
        # The envelopes are already canonical JSON: splice them in rather than re-encode.
        raw = b'{"envelopes":[' + b",".join(envelopes) + b"]}"
        reply = self._call("POST", "/v1/push", raw_body=raw)
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
        return results

    def pull(self, *, cursor: str, limit: int) -> dict[str, Any]:
        """``GET /v1/pull``: the changes after ``cursor``, ``next_cursor`` and ``has_more``."""
        reply = self._call("GET", "/v1/pull", params={"cursor": cursor, "limit": str(limit)})
        if (
            not isinstance(reply.get("changes"), list)
            or not isinstance(reply.get("next_cursor"), str)
            or not isinstance(reply.get("has_more"), bool)
        ):
            raise ProtocolError("the server's pull reply does not follow the protocol")
        return reply

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
            if len(raw_body) >= self.gzip_min_bytes:
                data = gzip.compress(raw_body, compresslevel=self.gzip_level, mtime=0)
                headers["Content-Encoding"] = "gzip"
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                return self._once(method, url, headers=headers, data=data, params=params)
            except _Transient as exc:
                attempt += 1
                if attempt >= self.retry.attempts or not idempotent:
                    raise SyncError(
                        f"the connection to the server kept failing ({exc.reason}); "
                        f"{self._waiting_text()} — try again later"
                    ) from None
                self.retry.sleep(self.retry.delay(attempt))

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
    ) -> dict[str, Any]:
        import requests

        try:
            response = self._session.request(
                method,
                url,
                headers=headers,
                data=data,
                params=params,
                timeout=(self.timeouts.connect, self.timeouts.read),
                allow_redirects=False,
            )
            body = response.content  # read it all here, so a cut reply is caught here
        except requests.exceptions.SSLError:
            raise SyncError(
                "the server's TLS certificate could not be verified; check the address, or "
                "ask the server's admin (fieldkit never connects without verifying it)"
            ) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL):
            raise self._unreachable() from None
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise self._unreachable() from None
            raise _Transient("connection lost") from None
        except requests.exceptions.Timeout:
            raise _Transient("no reply in time") from None
        except requests.exceptions.RequestException:
            raise _Transient("reply cut short") from None
        with self._count_lock:
            self.bytes_sent += len(data or b"")
            self.bytes_received += len(body)
        status = response.status_code
        if status in _TRANSIENT_STATUS or status >= 500:
            raise _Transient(f"server answered {status}")
        parsed = _json(body)
        if 200 <= status < 300:
            if parsed is None:
                # A 2xx reply that is not JSON was cut or mangled in transit: ask again.
                raise _Transient("reply cut short")
            return parsed
        raise _http_error(status, parsed, url=url)

    def _unreachable(self) -> ServerUnreachable:
        host = urlsplit(self.base_url).netloc
        return ServerUnreachable(f"server unreachable ({host}); {self._waiting_text()}")


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when no TCP connection was made at all (refused, unknown host, no route)."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    cause: BaseException | None = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, NewConnectionError | NameResolutionError)


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _http_error(status: int, parsed: dict[str, Any] | None, *, url: str) -> SyncError:
    detail = parsed.get("error") if parsed else None
    code = str(detail.get("code", "")) if isinstance(detail, dict) else ""
    message = str(detail.get("message", "")) if isinstance(detail, dict) else ""
    # The server's messages carry no personal data (contract); keep them to one short line.
    message = " ".join(message.split())[:200]
    if status == 401:
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
        return ProtocolError("the server refused a request as too large")
    reason = message or code or f"HTTP {status}"
    return ProtocolError(f"the server refused the request: {reason}")
