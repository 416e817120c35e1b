"""What a coordinator says for the project, signed (DESIGN §3): form versions, revocations,
key rotations, settings, the project keys for another coordinator — and the way an existing
project made before signed statements gets its signing identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fieldkit.crypto.hpke import key_id, public_raw
from fieldkit.errors import AuthError, CryptoError, FormError, UsageError
from fieldkit.exchange._state import (
    ProjectRoot,
    check_server,
    enrolment,
    open_client,
    pin_root,
    set_cursor,
)
from fieldkit.exchange._trust import STATE_PROJECT_KEYS, ProjectKey, Trust
from fieldkit.exchange.joining import founding_signer, grant_keys, require_trust
from sync.protocol import (
    DeviceBody,
    EmergencyContact,
    FormBody,
    ProjectBody,
    ProjectKeyBody,
    RevocationBody,
    SettingsBody,
    Statement,
    b64decode,
    b64encode,
    definition_sha256,
    fingerprint,
)

if TYPE_CHECKING:
    from fieldkit.store import Workspace
    from sync.client import SyncClient

__all__ = [
    "ProjectInfo",
    "Revoked",
    "Upgraded",
    "approve_coordinator",
    "certified_devices",
    "device_fingerprint",
    "project_info",
    "publish_form",
    "remember_candidate",
    "revoke_device",
    "rotate_key",
    "set_emergency_contacts",
    "trust_project",
    "upgrade_trust",
]

STATE_CANDIDATE = "trust.candidate"
# Below the client's JSON nesting limit (sync.client.Limits), with room for the pull envelope.
MAX_FORM_DEPTH = 90


def _depth(value: Any) -> int:
    """How deeply a JSON value nests (iteratively: a hostile definition cannot overflow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest  # a project statement seen before the identity is pinned


def device_fingerprint(ed25519_b64: str) -> str:
    """A device's key as people compare it: the first 16 characters of the same digest."""
    return fingerprint(b64decode(ed25519_b64))[:19]


@dataclass(frozen=True)
class ProjectInfo:
    """What `fieldkit project show` prints."""

    project_id: str
    name: str
    fingerprint: str | None
    role: str
    device_id: str
    device_fingerprint: str
    certified: bool | None
    key_generation: int | None
    holds_project_keys: bool
    server: str

    def as_json(self) -> dict[str, Any]:
        """The JSON of ``project show --json``."""
        return dict(self.__dict__)


def certified_devices(ws: Workspace) -> list[dict[str, Any]]:
    """The devices the project certified, as this laptop holds their certificates: id, role,
    name, key fingerprint, and when a revocation reached this laptop (or None)."""
    _, trust = require_trust(ws)
    return [
        {
            "device_id": cert.device_id,
            "role": cert.role,
            "name": cert.name,
            "key": device_fingerprint(cert.ed25519) if cert.ed25519 else "",
            "revoked_at": cert.revoked_at,
        }
        for cert in trust.certificates()
    ]


def project_info(ws: Workspace) -> ProjectInfo:
    """The project this laptop belongs to, its fingerprint, and this device's standing."""
    info = enrolment(ws)
    own = device_fingerprint(b64encode(ws.device.ed25519_public))
    if info.root is None:
        return ProjectInfo(
            project_id=info.project_id,
            name=info.project_name,
            fingerprint=None,
            role=info.role,
            device_id=info.device_id,
            device_fingerprint=own,
            certified=None,
            key_generation=None,
            holds_project_keys=any(
                k.get("private_key") for k in ws.state.get(STATE_PROJECT_KEYS) or []
            ),
            server=info.server_url,
        )
    trust = Trust(ws, info.root, device_id=info.device_id)
    cert = trust.certificate(info.device_id)
    current = trust.current_key()
    return ProjectInfo(
        project_id=info.project_id,
        name=info.project_name,
        fingerprint=info.root.fingerprint,
        role=info.role,
        device_id=info.device_id,
        device_fingerprint=own,
        certified=cert is not None and cert.active,
        key_generation=current.generation if current else None,
        holds_project_keys=trust.signing_private() is not None,
        server=info.server_url,
    )


def _post(
    client: SyncClient, statement: Statement, definition: dict[str, Any] | None = None
) -> str:
    body: dict[str, Any] = {"statement": statement.model_dump(mode="json")}
    if definition is not None:
        body["definition"] = definition
    return str(client.post_statement(body).get("status", ""))


def _issue_and_post(
    ws: Workspace,
    trust: Trust,
    client: SyncClient,
    kind: str,
    body: Any,
    *,
    definition: dict[str, Any] | None = None,
) -> str:
    statement = trust.issue(kind, body)
    status = _post(client, statement, definition)
    with ws.transaction():
        verdict = trust.accept(statement, definition=definition)
        trust.flush()
    if not verdict.accepted:
        raise CryptoError(f"a statement made here does not verify: {verdict.reason}")
    return status


def publish_form(
    ws: Workspace,
    source: Path | dict[str, Any],
    *,
    server: str | None = None,
    **client_options: Any,
) -> dict[str, str]:
    """Coordinator: sign a form version (by the digest of its definition) and send it to the
    project; devices take it on sync only if the signature and digest hold."""
    from fieldkit.forms import load_form, with_version

    if isinstance(source, Path):
        definition = dict(load_form(source).definition)
    else:
        definition = dict(source)
    # A form without a version gets the one `forms add` gives it (fieldkit.forms.versions).
    definition = with_version(definition)
    form_id = str(definition.get("id_string") or "").strip()
    version = str(definition["version"])
    if not form_id:
        where = source.name if isinstance(source, Path) else "the form"
        raise FormError(f"{where}: a published form needs a form_id (settings sheet)")
    if _depth(definition) > MAX_FORM_DEPTH:
        # Every laptop's pull refuses replies nested deeper than sync.client's limit.
        raise FormError(f"form {form_id} nests groups more than {MAX_FORM_DEPTH} levels deep")
    info = enrolment(ws)
    if info.root is None:
        return _publish_unsigned(ws, definition, form_id, version, server, client_options)
    _, trust = require_trust(ws, signer=True)
    body = FormBody(
        form_id=form_id,
        version=version,
        title=str(definition.get("title") or form_id)[:500],
        definition_sha256=definition_sha256(definition),
    )
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        status = _issue_and_post(ws, trust, client, "form", body, definition=definition)
    return {"form_id": form_id, "version": version, "status": status}


def _publish_unsigned(
    ws: Workspace,
    definition: dict[str, Any],
    form_id: str,
    version: str,
    server: str | None,
    client_options: dict[str, Any],
) -> dict[str, str]:
    """A project made before signed statements (until upgraded): the first protocol's call."""
    ws.forms.add(definition)
    body = {
        "form_id": form_id,
        "version": version,
        "title": str(definition.get("title") or form_id)[:500],
        "definition": definition,
    }
    _, client = open_client(ws, server=server, **client_options)
    with client:
        reply = client.publish_form(body)
    return {"form_id": form_id, "version": version, "status": str(reply.get("status", ""))}


@dataclass(frozen=True)
class Revoked:
    """A revocation, and the key rotation that followed a revoked coordinator."""

    device_id: str
    status: str
    rotated_to: int | None


def revoke_device(
    ws: Workspace, device_id: str, *, server: str | None = None, **client_options: Any
) -> Revoked:
    """Coordinator: revoke a device's certificate (signed; its token stops at the server).
    A revoked coordinator held the project keys, so a key rotation follows at once."""
    info, trust = require_trust(ws, signer=True)
    cert = trust.certificate(device_id)
    if cert is None:
        raise UsageError(f"no certified device {device_id} in this project")
    if device_id == info.device_id:
        raise UsageError("a coordinator does not revoke its own laptop (ask another coordinator)")
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        status = _issue_and_post(
            ws, trust, client, "revocation", RevocationBody(device_id=device_id)
        )
        rotated = _rotate(ws, trust, client) if cert.role == "coordinator" else None
    return Revoked(device_id=device_id, status=status, rotated_to=rotated)


def rotate_key(ws: Workspace, *, server: str | None = None, **client_options: Any) -> int:
    """Coordinator: a new project encryption key, announced signed; devices seal to it from
    their next record; every coordinator keeps the old keys to read old records. Returns the
    new key's generation."""
    _, trust = require_trust(ws, signer=True)
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        return _rotate(ws, trust, client)


def _rotate(ws: Workspace, trust: Trust, client: SyncClient) -> int:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    current = trust.current_key()
    generation = (current.generation if current else 0) + 1
    private = X25519PrivateKey.generate()
    public = public_raw(private.public_key())
    key = ProjectKey(
        key_id=key_id(public),
        public_key=b64encode(public),
        generation=generation,
        private_key=b64encode(
            private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        ),
    )
    # The private half is kept before the announcement leaves: a crash in between leaves a
    # key nobody seals to yet, never an announced key nobody can open.
    with ws.transaction():
        trust.add_project_key(key)
        trust.flush()
    body = ProjectKeyBody(key_id=key.key_id, public_key=key.public_key, generation=generation)
    _issue_and_post(ws, trust, client, "project_key", body)
    for cert in trust.certificates():
        if cert.active and cert.role == "coordinator" and cert.device_id != trust.device_id:
            grant_keys(client, trust, device_id=cert.device_id)
    return generation


def approve_coordinator(
    ws: Workspace, device_id: str, *, server: str | None = None, **client_options: Any
) -> int:
    """Coordinator: send the project keys again to a certified coordinator (sealed to its
    certified key; certification already sends them once). Returns 1."""
    _, trust = require_trust(ws, signer=True)
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        grant_keys(client, trust, device_id=device_id)
    return 1


def set_emergency_contacts(
    ws: Workspace,
    contacts: list[dict[str, Any]],
    *,
    server: str | None = None,
    **client_options: Any,
) -> int:
    """Coordinator: the programme's emergency contacts, signed as project settings; every
    laptop shows them beside an urgent flag. Returns how many."""
    try:
        checked = [EmergencyContact.model_validate(c) for c in contacts]
        body = SettingsBody(emergency_contacts=checked)
    except ValidationError:
        raise UsageError(
            'emergency contacts are a JSON list of {"label": …, "contact": …} '
            "(at most 20, each at most 100 characters, no control characters)"
        ) from None
    _, trust = require_trust(ws, signer=True)
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        _issue_and_post(ws, trust, client, "settings", body)
    return len(checked)


# --- projects made before signed statements ------------------------------------------------


def remember_candidate(ws: Workspace, statement: dict[str, Any]) -> None:
    """Keep the project statement a workspace saw before it pinned an identity."""
    ws.state.set(STATE_CANDIDATE, statement)


def trust_project(ws: Workspace, expected: str, **client_options: Any) -> ProjectRoot:
    """A laptop enrolled before signed statements pins its project's identity, once its
    coordinator has given it the fingerprint (`fieldkit project show` on their laptop).
    From then on it takes only what the project signed."""
    from fieldkit.crypto.statements import check_project_signature
    from fieldkit.exchange.transfer import pull_statements

    info = enrolment(ws)
    if info.root is not None:
        raise UsageError(f"this laptop already trusts the project {info.root.fingerprint}")
    _, client = open_client(ws, **client_options)
    with client:
        check_server(client)
        pull_statements(ws, client)  # brings the project statement, if there is one
        raw = ws.state.get(STATE_CANDIDATE)
        if not isinstance(raw, dict):
            raise UsageError(
                "the server shows no signing identity for this project yet: a coordinator runs "
                "`fieldkit project upgrade-trust` first"
            )
        try:
            statement = Statement.model_validate(raw)
            body = ProjectBody.model_validate(statement.body)
            shown = fingerprint(b64decode(body.signing_key))
        except (ValidationError, ValueError):
            raise CryptoError("the server's project statement is malformed") from None
        if _normal(shown) != _normal(expected):
            raise CryptoError(
                f"the server shows the fingerprint {shown}, not the one you were given: "
                "nothing was changed; tell your coordinator"
            )
        root = ProjectRoot(project_id=info.project_id, name=body.name, signing_key=body.signing_key)
        check_project_signature(
            statement, signing_key=root.verify_key(), project_id=root.project_id
        )
        with ws.transaction():
            pin_root(ws, root)
            ws.state.delete(STATE_CANDIDATE)
            set_cursor(ws, "0")  # read every statement again, now checking each
        pull_statements(ws, client)
    return root


def _normal(text: str) -> str:
    return text.upper().replace("-", "").replace(" ", "")


@dataclass(frozen=True)
class Upgraded:
    """What `project upgrade-trust` did."""

    fingerprint: str
    certified: list[str]
    skipped: list[str]
    forms: int


def upgrade_trust(
    ws: Workspace,
    *,
    confirm: Callable[[str, str, str | None, str], bool],
    server: str | None = None,
    **client_options: Any,
) -> Upgraded:
    """A project made before signed statements gets its signing identity from the coordinator
    who holds its key: a new signing key, the project and key statements, this laptop's own
    certificate, the forms it published, and a certificate for each enrolled device the
    coordinator confirms by its key fingerprint (``confirm(device_id, role, name,
    fingerprint)``; compare with `fieldkit project show` on that laptop)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    info = enrolment(ws)
    if info.root is not None:
        raise UsageError(f"this project already has a signing identity ({info.root.fingerprint})")
    keys = [dict(k) for k in ws.state.get(STATE_PROJECT_KEYS) or []]
    if not info.is_coordinator or not any(k.get("private_key") for k in keys):
        raise AuthError("only a coordinator holding the project key can upgrade the project")
    psk = Ed25519PrivateKey.generate()
    signing_key = b64encode(psk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    own_key = b64encode(ws.device.ed25519_public)
    signed = founding_signer(psk, ws, project_id=info.project_id, issuer=info.device_id)

    statements = [
        signed(
            "project",
            ProjectBody(
                name=info.project_name or info.project_id,
                signing_key=signing_key,
                creator=info.device_id,
                creator_key=own_key,
            ),
        ),
        signed(
            "device",
            DeviceBody(
                device_id=info.device_id,
                role="coordinator",
                x25519=b64encode(ws.device.x25519_public),
                ed25519=own_key,
            ),
        ),
    ]
    for generation, key in enumerate(keys, start=1):
        statements.append(
            signed(
                "project_key",
                ProjectKeyBody(
                    key_id=key["key_id"], public_key=key["public_key"], generation=generation
                ),
            )
        )
    root = ProjectRoot(
        project_id=info.project_id,
        name=info.project_name or info.project_id,
        signing_key=signing_key,
        creator=info.device_id,
        creator_key=own_key,
    )
    _, client = open_client(ws, server=server, **client_options)
    certified: list[str] = []
    skipped: list[str] = []
    with client:
        check_server(client)
        devices = client.devices()
        client.upgrade_identity({"statements": [s.model_dump(mode="json") for s in statements]})
        with ws.transaction():
            pin_root(ws, root)
            trust = Trust(ws, root, device_id=info.device_id)
            trust.set_signing_private(
                psk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            )
            for generation, key in enumerate(keys, start=1):
                trust.add_project_key(
                    ProjectKey(
                        key_id=key["key_id"],
                        public_key=key["public_key"],
                        generation=generation,
                        private_key=key.get("private_key"),
                    )
                )
            for statement in statements:
                trust.accept(statement)
            trust.flush()
        forms = 0
        for version in ws.forms.list():
            body = FormBody(
                form_id=version.form_id,
                version=version.version,
                title=version.title[:500],
                definition_sha256=definition_sha256(version.definition),
            )
            _issue_and_post(ws, trust, client, "form", body, definition=version.definition)
            forms += 1
        for device in devices:
            device_id = str(device.get("device_id"))
            if device_id == info.device_id or device.get("revoked"):
                continue
            role = str(device.get("role"))
            shown = device_fingerprint(str(device.get("ed25519")))
            if not confirm(device_id, role, device.get("name"), shown):
                skipped.append(device_id)
                continue
            try:
                cert = DeviceBody.model_validate(
                    {
                        "device_id": device_id,
                        "role": role,
                        "x25519": device.get("x25519"),
                        "ed25519": device.get("ed25519"),
                        "name": device.get("name"),
                    }
                )
            except ValidationError:
                skipped.append(device_id)
                continue
            _issue_and_post(ws, trust, client, "device", cert)
            if role == "coordinator":
                grant_keys(client, trust, device_id=device_id)
            certified.append(device_id)
    return Upgraded(fingerprint=root.fingerprint, certified=certified, skipped=skipped, forms=forms)
