"""The server's admin calls (enrolment codes, devices) over the one transport of sync.client.

Used by `fieldkit server enroll-code` and `fieldkit server devices`. The calls go through
``SyncClient``, so they follow its rules: plain http only to this machine unless
``insecure_http`` (the admin token must never cross a network in clear), TLS always verified,
capped and bounded replies, one ``SyncError`` family error per failure (nothing answering →
ServerUnreachable, 401/403 → AuthError, a refusal → ProtocolError with the server's reason as
inert text, a reply off the protocol → ProtocolError).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

from fieldkit.errors import ProtocolError, UsageError
from sync.client import SyncClient, Timeouts
from sync.protocol import AdminDevice, AdminDeviceList

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

    def __init__(
        self,
        server: str,
        admin_token: str,
        *,
        timeout: float = 15.0,
        insecure_http: bool = False,
        ca_bundle: str | None = None,
    ) -> None:
        if not admin_token.strip():
            raise UsageError("an admin token is needed (fieldkit server init prints it)")
        # Checks the address first: a refused URL raises here, before any byte is sent.
        self._client = SyncClient(
            server,
            insecure_http=insecure_http,
            ca_bundle=ca_bundle,
            timeouts=Timeouts(connect=min(5.0, timeout), read=timeout, request=4 * timeout),
        )
        self.base = self._client.base_url
        self.token = admin_token
        self.timeout = timeout

    def devices(self) -> list[AdminDevice]:
        """Every enrolled device of the server."""
        return _parse(AdminDeviceList, self._client.admin_devices(admin_token=self.token)).devices

    def revoke(self, device_id: str) -> AdminDevice:
        """Revoke one device; its next call gets 401."""
        return _parse(AdminDevice, self._client.revoke_device(device_id, admin_token=self.token))

    def close(self) -> None:
        """Close the keep-alive connection."""
        self._client.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValueError:
        raise ProtocolError("the server's reply does not follow the protocol") from None
