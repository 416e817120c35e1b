"""A small HTTP client for the server's admin calls (enrolment codes, devices).

Used by `fieldkit server enroll-code` and `fieldkit server devices`. HTTP failures map onto the
one error tree: nothing answering → ServerUnreachable, 401/403 → AuthError, any other refusal
→ SyncError with the server's one-line reason, a reply off the protocol → ProtocolError.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

from fieldkit.errors import AuthError, ProtocolError, ServerUnreachable, SyncError, UsageError
from sync.protocol import AdminDevice, AdminDeviceList, EnrollCodeRequest, EnrollCodeResponse

__all__ = ["AdminClient", "parse_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Seconds in `90`, `30m`, `24h`, `7d` or `2w`."""
    match = re.fullmatch(r"\s*(\d{1,7})\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise UsageError("a duration looks like 3600, 30m, 24h, 7d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


class AdminClient:
    """Admin calls against one server with the admin token."""

    def __init__(self, server: str, admin_token: str, *, timeout: float = 15.0) -> None:
        self.base = server.rstrip("/")
        self.token = admin_token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import requests

        try:
            reply = requests.request(
                method,
                self.base + path,
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
            )
        except requests.exceptions.SSLError:
            raise SyncError("the server's TLS certificate does not verify") from None
        except (requests.ConnectionError, requests.Timeout):
            raise ServerUnreachable(f"server unreachable at {self.base}") from None
        except requests.RequestException as exc:
            raise SyncError(f"request failed ({exc.__class__.__name__})") from None
        reason = _reason(reply)
        if reply.status_code in (401, 403):
            raise AuthError(reason or "the server refused the admin token")
        if reply.status_code >= 400:
            raise SyncError(f"server said {reply.status_code}: {reason or 'no reason given'}")
        try:
            return reply.json()
        except ValueError:
            raise ProtocolError("the server's reply is not JSON") from None

    def enroll_code(
        self, *, role: str, project_id: str | None, expires_in_seconds: int
    ) -> EnrollCodeResponse:
        """A one-time enrolment code for a role (and project) that expires after N seconds."""
        try:
            request = EnrollCodeRequest.model_validate(
                {"role": role, "project_id": project_id, "expires_in_seconds": expires_in_seconds}
            )
        except ValueError:
            raise UsageError(
                "role must be field or coordinator; expiry between 1 minute and 30 days"
            ) from None
        data = self._call("POST", "/v1/admin/enroll-codes", request.model_dump(mode="json"))
        return _parse(EnrollCodeResponse, data)

    def devices(self) -> list[AdminDevice]:
        """Every enrolled device of the server."""
        return _parse(AdminDeviceList, self._call("GET", "/v1/admin/devices")).devices

    def revoke(self, device_id: str) -> AdminDevice:
        """Revoke one device; its next call gets 401."""
        from urllib.parse import quote

        path = f"/v1/admin/devices/{quote(device_id, safe='')}/revoke"
        return _parse(AdminDevice, self._call("POST", path))


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValueError:
        raise ProtocolError("the server's reply does not follow the protocol") from None


def _reason(reply: Any) -> str | None:
    try:
        message = reply.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(message)[:200] if message else None
