"""What a workspace remembers about its server and project, inside the encrypted ``ws.state``.

This module is the one place that reads and writes enrolment state: everything else asks for
an :class:`Enrolment` (a typed, frozen object) and, for what the project signed, a
``fieldkit.exchange._trust.Trust``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldkit.errors import NotEnrolled, ProtocolError, SyncError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from fieldkit.store import Workspace
    from sync.client import SyncClient

STATE_SERVER_URL = "sync.server_url"
STATE_TOKEN = "sync.token"  # noqa: S105 - the name of a state key, not a secret
STATE_DEVICE_ID = "sync.device_id"
STATE_PROJECT_ID = "sync.project_id"
STATE_PROJECT_NAME = "sync.project_name"
STATE_ROLE = "sync.role"
STATE_CURSOR = "sync.cursor"
STATE_INSECURE_HTTP = "sync.insecure_http"
STATE_CA_BUNDLE = "sync.ca_bundle"  # a CA file to trust for this server (a private CA)
# Enrolled from a coordinator's bundle, with no server (DESIGN §6b): records leave by bundle.
STATE_OFFLINE = "bundle.offline"
# The project's pinned identity: {"project_id", "name", "signing_key", "creator",
# "creator_key"} (the last two once its project statement is in). Absent on a
# workspace enrolled before signed statements (see docs/security.md, "Upgrading").
STATE_ROOT = "trust.root"
# Only before signed statements: keys learned from the server, as the first protocol did.
STATE_LEGACY_DEVICE_KEYS = "sync.device_keys"
STATE_LEGACY_PENDING_KEYS = "sync.pending_project_keys"

# A laptop whose clock is further off than this cannot be trusted to order case events
# (DESIGN §5: "a laptop with a wrong clock must not win").
MAX_CLOCK_SKEW_SECONDS = 10 * 60


@dataclass(frozen=True)
class ProjectRoot:
    """The project's identity as pinned at enrolment: the root every statement is checked by."""

    project_id: str
    name: str
    signing_key: str  # base64 raw Ed25519 public key (the PSK's public half)
    creator: str | None = None  # the device id of the coordinator who made the project
    creator_key: str | None = None  # that device's Ed25519 public key (base64)

    @property
    def fingerprint(self) -> str:
        """What people compare: 32 characters in groups of four (``sync.protocol``)."""
        from sync.protocol import b64decode, fingerprint

        return fingerprint(b64decode(self.signing_key))

    def verify_key(self) -> Ed25519PublicKey:
        """The PSK's public half as a key object."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        from sync.protocol import b64decode

        return Ed25519PublicKey.from_public_bytes(b64decode(self.signing_key))

    def as_state(self) -> dict[str, str | None]:
        """The JSON kept in ``ws.state``."""
        return {
            "project_id": self.project_id,
            "name": self.name,
            "signing_key": self.signing_key,
            "creator": self.creator,
            "creator_key": self.creator_key,
        }


@dataclass(frozen=True)
class Enrolment:
    """The server and project this workspace is enrolled with, as stored at enrolment."""

    server_url: str
    token: str
    device_id: str
    project_id: str
    project_name: str
    role: str
    insecure_http: bool
    ca_bundle: str | None = None
    root: ProjectRoot | None = None

    @property
    def is_coordinator(self) -> bool:
        """Coordinators certify devices, sign what the project says, and read every record."""
        return self.role == "coordinator"

    @property
    def trusts_statements(self) -> bool:
        """True once a project identity is pinned: from then on only signed items count."""
        return self.root is not None


def enrolment(ws: Workspace) -> Enrolment:
    """The stored enrolment; NotEnrolled when this workspace has none."""
    token = ws.state.get(STATE_TOKEN)
    if not token and not ws.state.get(STATE_OFFLINE):
        raise NotEnrolled(
            "this workspace is not enrolled with a server: run `fieldkit enroll URL CODE` "
            "(or `fieldkit project create`)"
        )
    root = ws.state.get(STATE_ROOT)
    return Enrolment(
        server_url=str(ws.state.get(STATE_SERVER_URL) or ""),
        token=str(token or ""),
        device_id=str(ws.state.get(STATE_DEVICE_ID)),
        project_id=str(ws.state.get(STATE_PROJECT_ID)),
        project_name=str(ws.state.get(STATE_PROJECT_NAME) or ""),
        role=str(ws.state.get(STATE_ROLE)),
        insecure_http=bool(ws.state.get(STATE_INSECURE_HTTP, False)),
        ca_bundle=ws.state.get(STATE_CA_BUNDLE),
        root=ProjectRoot(**root) if isinstance(root, dict) else None,
    )


def is_enrolled(ws: Workspace) -> bool:
    """Whether this workspace is enrolled with a server (or, offline, from a bundle)."""
    return bool(ws.state.get(STATE_TOKEN) or ws.state.get(STATE_OFFLINE))


def save_enrolment(ws: Workspace, info: Enrolment) -> None:
    """Store everything about an enrolment in one local transaction; the cursor starts at 0."""
    with ws.transaction():
        ws.state.set(STATE_SERVER_URL, info.server_url)
        ws.state.set(STATE_TOKEN, info.token)
        ws.state.set(STATE_DEVICE_ID, info.device_id)
        ws.state.set(STATE_PROJECT_ID, info.project_id)
        ws.state.set(STATE_PROJECT_NAME, info.project_name)
        ws.state.set(STATE_ROLE, info.role)
        ws.state.set(STATE_INSECURE_HTTP, info.insecure_http)
        ws.state.set(STATE_CA_BUNDLE, info.ca_bundle)
        ws.state.set(STATE_CURSOR, "0")
        if info.root is not None:
            pin_root(ws, info.root)


def pin_root(ws: Workspace, root: ProjectRoot) -> None:
    """Pin the project identity (enrolment, project creation, or a confirmed upgrade)."""
    ws.state.set(STATE_ROOT, root.as_state())
    ws.state.set(STATE_PROJECT_NAME, root.name)


def cursor(ws: Workspace) -> str:
    """Where the last pull stopped."""
    return str(ws.state.get(STATE_CURSOR) or "0")


def set_cursor(ws: Workspace, value: str) -> None:
    """Remember where a pull stopped (call inside the page's transaction)."""
    ws.state.set(STATE_CURSOR, value)


def refuse_second_enrolment(ws: Workspace) -> None:
    """A workspace belongs to one project."""
    from fieldkit.errors import UsageError

    if is_enrolled(ws):
        raise UsageError(
            "this workspace is already enrolled; a workspace belongs to one project "
            "(make another with `fieldkit --home DIR init`)"
        )


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
    if not (server or info.server_url):
        raise NotEnrolled(
            "this laptop was enrolled from a bundle and knows no server: deliver its records "
            "with `fieldkit bundle export --out FILE`"
        )
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
