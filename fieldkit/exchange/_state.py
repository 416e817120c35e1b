"""What a workspace remembers about its server, inside the encrypted ``ws.state`` table."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldkit.crypto.envelope import STATE_DEVICE_ID, STATE_PROJECT_ID, STATE_PROJECT_KEYS
from fieldkit.errors import NotEnrolled, ProtocolError, SyncError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from fieldkit.store import Workspace
    from sync.client import SyncClient

STATE_SERVER_URL = "sync.server_url"
STATE_TOKEN = "sync.token"  # noqa: S105 - the name of a state key, not a secret
STATE_ROLE = "sync.role"
STATE_PROJECT_NAME = "sync.project_name"
STATE_CURSOR = "sync.cursor"
STATE_INSECURE_HTTP = "sync.insecure_http"
STATE_CA_BUNDLE = "sync.ca_bundle"  # a CA file to trust for this server (a private CA)
STATE_DEVICE_KEYS = "sync.device_keys"  # coordinator: {device_id: Ed25519 public key (b64)}
STATE_PENDING_KEYS = "sync.pending_project_keys"  # keys announced after enrolment, not trusted
STATE_REVOKED = "sync.revoked_devices"

# A laptop whose clock is further off than this cannot be trusted to order case events
# (DESIGN §5: "a laptop with a wrong clock must not win").
MAX_CLOCK_SKEW_SECONDS = 10 * 60


@dataclass(frozen=True)
class Enrolment:
    """The server this workspace is enrolled with, as stored at enrolment."""

    server_url: str
    token: str
    device_id: str
    project_id: str
    project_name: str
    role: str
    insecure_http: bool
    ca_bundle: str | None = None

    @property
    def is_coordinator(self) -> bool:
        """Coordinators pull and decrypt every record of the project."""
        return self.role == "coordinator"


def enrolment(ws: Workspace) -> Enrolment:
    """The stored enrolment; NotEnrolled when this workspace has none."""
    token = ws.state.get(STATE_TOKEN)
    if not token:
        raise NotEnrolled(
            "this workspace is not enrolled with a server: run `fieldkit enroll URL CODE` "
            "(or `fieldkit project create`)"
        )
    return Enrolment(
        server_url=str(ws.state.get(STATE_SERVER_URL)),
        token=str(token),
        device_id=str(ws.state.get(STATE_DEVICE_ID)),
        project_id=str(ws.state.get(STATE_PROJECT_ID)),
        project_name=str(ws.state.get(STATE_PROJECT_NAME) or ""),
        role=str(ws.state.get(STATE_ROLE)),
        insecure_http=bool(ws.state.get(STATE_INSECURE_HTTP, False)),
        ca_bundle=ws.state.get(STATE_CA_BUNDLE),
    )


def save_enrolment(
    ws: Workspace,
    *,
    server_url: str,
    token: str,
    device_id: str,
    project_id: str,
    project_name: str,
    role: str,
    insecure_http: bool,
    project_keys: list[dict[str, str]],
    ca_bundle: str | None = None,
) -> None:
    """Store everything about the enrolment in one local transaction."""
    with ws.records.batch():
        ws.state.set(STATE_SERVER_URL, server_url)
        ws.state.set(STATE_TOKEN, token)
        ws.state.set(STATE_DEVICE_ID, device_id)
        ws.state.set(STATE_PROJECT_ID, project_id)
        ws.state.set(STATE_PROJECT_NAME, project_name)
        ws.state.set(STATE_ROLE, role)
        ws.state.set(STATE_INSECURE_HTTP, insecure_http)
        ws.state.set(STATE_CA_BUNDLE, ca_bundle)
        ws.state.set(STATE_PROJECT_KEYS, project_keys)
        ws.state.set(STATE_CURSOR, "0")


def project_private_keys(ws: Workspace) -> list[X25519PrivateKey]:
    """The project private keys this workspace holds (a coordinator's; none on a field device)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    keys = []
    for item in ws.state.get(STATE_PROJECT_KEYS) or []:
        if item.get("private_key"):
            keys.append(X25519PrivateKey.from_private_bytes(base64.b64decode(item["private_key"])))
    return keys


def b64(raw: bytes) -> str:
    """Standard base64 text, as every binary field on the wire."""
    return base64.b64encode(raw).decode("ascii")


def open_client(
    ws: Workspace,
    *,
    server: str | None = None,
    insecure_http: bool = False,
    waiting: int = 0,
    **options: Any,
) -> tuple[Enrolment, SyncClient]:
    """A client for the enrolled server (or ``server``, for one that moved or a proxy)."""
    from sync.client import SyncClient

    info = enrolment(ws)
    options.setdefault("ca_bundle", info.ca_bundle)
    client = SyncClient(
        server or info.server_url,
        token=info.token,
        insecure_http=insecure_http or info.insecure_http,
        waiting=waiting,
        **options,
    )
    return info, client


def check_server(client: SyncClient) -> dict[str, Any]:
    """Ask ``/v1/health``: the protocol must match and the clocks must roughly agree."""
    sent_at = time.time()
    reply = client.health()
    received_at = time.time()
    if reply.get("protocol") != 1:
        raise ProtocolError("the server speaks another version of the sync protocol")
    offset = client.clock_offset(reply, sent_at=sent_at, received_at=received_at)
    if abs(offset) > MAX_CLOCK_SKEW_SECONDS:
        minutes = round(abs(offset) / 60)
        way = "behind" if offset > 0 else "ahead of"
        raise SyncError(
            f"this laptop's clock is about {minutes} minutes {way} the server's; "
            "set the correct date and time, then sync again"
        )
    return reply
