"""What the project signed, as this workspace holds it: certificates, keys, forms, settings.

Every statement is checked here before anything is stored (DESIGN §3): the project signing key
(PSK) pinned at enrolment must have signed it, and so must its issuer — the project's creator
(named in the project statement) or a coordinator whose certificate this workspace holds and
has not seen revoked. Then each kind is checked against what is already here, so that a
replayed or reordered item changes nothing:

- a project key announces a generation; sealing uses the highest one, so an old announcement
  served again cannot bring back an old key;
- a certificate never changes a device's keys, and a revoked device is never certified again;
- a form version must match its signed digest, and the current version of a form is the one
  its publisher released last (``published_at``), not the one that arrived last;
- settings are replaced only by settings issued later.

The caches below are read once per ``Trust`` and written back by :meth:`Trust.flush`, so that a
pull page of thousands of statements costs one write per key, inside the page's transaction.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.crypto.statements import sign_statement, verify_statement
from fieldkit.errors import CryptoError, FormError
from fieldkit.exchange._state import STATE_ROOT, ProjectRoot
from sync.protocol import (
    AssignmentBody,
    DeviceBody,
    EnrolOfferBody,
    ErasureBody,
    FormBody,
    ProjectBody,
    ProjectKeyBody,
    RevocationBody,
    SettingsBody,
    Statement,
    WithdrawalBody,
    b64decode,
    b64encode,
    definition_sha256,
    form_ref,
    key_id,
    statement_id,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from pydantic import BaseModel

    from fieldkit.store import Workspace

__all__ = [
    "Certificate",
    "EnrolmentSecret",
    "ProjectKey",
    "Trust",
    "Verdict",
    "stamp",
]

STATE_DEVICES = "trust.devices"
STATE_PROJECT_KEYS = "sync.project_keys"  # [{key_id, public_key, generation, private_key?}]
STATE_SIGNING_PRIVATE = "trust.signing_private"
STATE_CODES = "trust.codes"
STATE_SETTINGS = "trust.settings"
# Read by the interview (fieldkit.capture): the programme's emergency contacts, as signed.
STATE_CONTACTS = "project.emergency_contacts"

SECRET_INFO = b"fieldkit/v2/enrol-secret"
GRANT_INFO = b"fieldkit/v2/key-grant"


def stamp() -> str:
    """Now as a protocol time stamp (``fieldkit.clock.utc_text``: UTC, milliseconds, ``Z``)."""
    from fieldkit.clock import utc_text

    return utc_text()


@dataclass(frozen=True)
class Certificate:
    """A device the project certified: its keys and role, and whether it was revoked."""

    device_id: str
    role: str
    x25519: str
    ed25519: str
    name: str | None
    issued_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Certified and not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class ProjectKey:
    """A project encryption key: public half, generation, and private half on a coordinator."""

    key_id: str
    public_key: str
    generation: int
    private_key: str | None = None


@dataclass(frozen=True)
class EnrolmentSecret:
    """An enrolment code's secret and what it was made for (coordinators only)."""

    code_id: str
    secret: bytes
    role: str
    expires_at: str
    used_by: str | None


@dataclass
class Verdict:
    """What became of one statement."""

    kind: str
    accepted: bool
    new: bool = False
    reason: str | None = None


@dataclass
class _Caches:
    devices: dict[str, dict[str, Any]]
    keys: list[dict[str, Any]]
    codes: dict[str, dict[str, Any]]
    dirty: set[str] = field(default_factory=set)


class Trust:
    """The project's signed state in one workspace (see the module docstring)."""

    def __init__(self, ws: Workspace, root: ProjectRoot, *, device_id: str) -> None:
        self._ws = ws
        self.root = root
        self.device_id = device_id
        self._caches = _Caches(
            devices=dict(ws.state.get(STATE_DEVICES) or {}),
            # Keys taken before signed statements have no generation yet (0 until signed).
            keys=[
                {"generation": 0, "private_key": None, **k}
                for k in ws.state.get(STATE_PROJECT_KEYS) or []
            ],
            codes=dict(ws.state.get(STATE_CODES) or {}),
        )
        self._verify_keys: dict[str, Ed25519PublicKey] = {}

    # --- reading ---------------------------------------------------------------------------

    def certificate(self, device_id: str) -> Certificate | None:
        """The certificate of a device, if the project certified it."""
        item = self._caches.devices.get(device_id)
        return Certificate(device_id=device_id, **item) if item else None

    def certificates(self) -> list[Certificate]:
        """Every certified device, revoked ones included."""
        return [Certificate(device_id=d, **item) for d, item in self._caches.devices.items()]

    def device_key(self, device_id: str) -> Ed25519PublicKey | None:
        """The certified Ed25519 key of an active device (the key its records must verify by)."""
        cert = self.certificate(device_id)
        if cert is None or not cert.active:
            return None
        key = self._verify_keys.get(device_id)
        if key is None:
            key = self._verify_keys[device_id] = _ed25519(cert.ed25519)
        return key

    def project_keys(self) -> list[ProjectKey]:
        """Every project encryption key known here, oldest generation first."""
        keys = [ProjectKey(**k) for k in self._caches.keys]
        return sorted(keys, key=lambda k: k.generation)

    def current_key(self) -> ProjectKey | None:
        """The key devices seal to: the highest generation the project announced (a key taken
        before signed statements, generation 0, never counts)."""
        keys = [k for k in self.project_keys() if k.generation >= 1]
        return keys[-1] if keys else None

    def private_keys(self) -> list[X25519PrivateKey]:
        """The project's private encryption keys held here (a coordinator's)."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return [
            X25519PrivateKey.from_private_bytes(b64decode(k.private_key))
            for k in self.project_keys()
            if k.private_key
        ]

    def signing_private(self) -> Ed25519PrivateKey | None:
        """The project signing key (coordinators only)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        raw = self._ws.state.get(STATE_SIGNING_PRIVATE)
        return Ed25519PrivateKey.from_private_bytes(b64decode(raw)) if raw else None

    def settings(self) -> dict[str, Any]:
        """The latest project settings (an empty dict when none were issued)."""
        held = self._ws.state.get(STATE_SETTINGS) or {}
        body = held.get("body") if isinstance(held, dict) else None
        return dict(body) if isinstance(body, dict) else {}

    # --- keeping keys and codes ------------------------------------------------------------

    def add_project_key(self, key: ProjectKey) -> None:
        """Remember a project key (with its private half on a coordinator)."""
        for item in self._caches.keys:
            if item["key_id"] == key.key_id:
                if key.private_key and not item.get("private_key"):
                    item["private_key"] = key.private_key
                    self._caches.dirty.add(STATE_PROJECT_KEYS)
                if not item.get("generation") and key.generation:
                    item["generation"] = key.generation  # signed at last (an upgrade)
                    self._caches.dirty.add(STATE_PROJECT_KEYS)
                return
        self._caches.keys.append(
            {
                "key_id": key.key_id,
                "public_key": key.public_key,
                "generation": key.generation,
                "private_key": key.private_key,
            }
        )
        self._caches.dirty.add(STATE_PROJECT_KEYS)

    def set_signing_private(self, raw: bytes) -> None:
        """Keep the project signing key (its creator, or a coordinator granted the keys)."""
        self._ws.state.set(STATE_SIGNING_PRIVATE, b64encode(raw))

    def remember_code(self, secret: EnrolmentSecret) -> None:
        """Keep an enrolment code's secret to check the MAC of the device that spends it."""
        if secret.code_id in self._caches.codes:
            return
        self._caches.codes[secret.code_id] = {
            "secret": b64encode(secret.secret),
            "role": secret.role,
            "expires_at": secret.expires_at,
            "used_by": secret.used_by,
        }
        self._caches.dirty.add(STATE_CODES)

    def code(self, code_id: str) -> EnrolmentSecret | None:
        """The secret of a code made here, or of another coordinator's offer whose sealed
        secret this workspace can open."""
        item = self._caches.codes.get(code_id)
        if item is None:
            item = self._open_offer(code_id)
        if item is None:
            return None
        return EnrolmentSecret(
            code_id=code_id,
            secret=b64decode(item["secret"]),
            role=str(item["role"]),
            expires_at=str(item["expires_at"]),
            used_by=item.get("used_by"),
        )

    def mark_code_used(self, code_id: str, device_id: str) -> None:
        """One code, one device."""
        if code_id in self._caches.codes:
            self._caches.codes[code_id]["used_by"] = device_id
            self._caches.dirty.add(STATE_CODES)

    def _open_offer(self, code_id: str) -> dict[str, Any] | None:
        from fieldkit.crypto.hpke import unwrap

        private = {k.key_id: k for k in self.project_keys() if k.private_key}
        for stored in self._ws.statements.list(kind="enrol_offer", subject=code_id):
            offer = EnrolOfferBody.model_validate(stored.statement["body"])
            key = private.get(offer.key_id)
            if key is None or key.private_key is None:
                continue
            from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

            try:
                secret = unwrap(
                    b64decode(offer.sealed_secret),
                    private_key=X25519PrivateKey.from_private_bytes(b64decode(key.private_key)),
                    info=SECRET_INFO + code_id.encode("ascii"),
                )
            except (CryptoError, ValueError):
                continue
            item = {
                "secret": b64encode(secret),
                "role": offer.role,
                "expires_at": offer.expires_at,
                "used_by": None,
            }
            self._caches.codes[code_id] = item
            self._caches.dirty.add(STATE_CODES)
            return item
        return None

    def flush(self) -> None:
        """Write what changed back to ``ws.state`` (inside the caller's transaction)."""
        dirty = self._caches.dirty
        if STATE_DEVICES in dirty:
            self._ws.state.set(STATE_DEVICES, self._caches.devices)
        if STATE_PROJECT_KEYS in dirty:
            self._ws.state.set(STATE_PROJECT_KEYS, self._caches.keys)
        if STATE_CODES in dirty:
            self._ws.state.set(STATE_CODES, self._caches.codes)
        if STATE_ROOT in dirty:
            self._ws.state.set(STATE_ROOT, self.root.as_state())
        dirty.clear()

    # --- signing (coordinators) ------------------------------------------------------------

    def issue(self, kind: str, body: BaseModel) -> Statement:
        """A statement signed with the project key and this coordinator's device key."""
        signing = self.signing_private()
        if signing is None:
            raise CryptoError(
                "this workspace does not hold the project signing key (a coordinator's)"
            )
        return sign_statement(
            signing,
            issuer_key=self._ws.device.ed25519,
            kind=kind,
            project_id=self.root.project_id,
            issuer=self.device_id,
            issued_at=stamp(),
            body=body,
        )

    # --- checking and applying -------------------------------------------------------------

    def accept(self, statement: Statement, *, definition: dict[str, Any] | None = None) -> Verdict:
        """Verify one statement and apply it; a refusal stores nothing (see the module doc)."""
        sid = statement_id(statement)
        if self._ws.statements.has(sid):
            return Verdict(statement.kind, accepted=True)
        try:
            body = self._verified(statement)
            subject = self._apply(statement, body, definition)
        except CryptoError as exc:
            return Verdict(statement.kind, accepted=False, reason=str(exc))
        self._ws.statements.add(
            statement_id=sid,
            kind=statement.kind,
            subject=subject,
            issued_at=statement.issued_at,
            statement=statement.model_dump(mode="json"),
        )
        return Verdict(statement.kind, accepted=True, new=True)

    def _issuer_key(self, statement: Statement) -> Ed25519PublicKey:
        issuer = statement.issuer
        cert = self.certificate(issuer)
        if cert is not None:
            if cert.role != "coordinator":
                raise CryptoError("issued by a device that is not a coordinator")
            if not cert.active:
                raise CryptoError("issued by a coordinator whose certificate was revoked")
            return _ed25519(cert.ed25519)
        if issuer == self.root.creator and self.root.creator_key:
            return _ed25519(self.root.creator_key)
        if statement.kind == "project" and self.root.creator is None:
            # The first project statement names the creator and its key: it is checked by both
            # signatures below with that key, and pins the creator from then on.
            body = ProjectBody.model_validate(statement.body)
            if body.creator == issuer:
                return _ed25519(body.creator_key)
        raise CryptoError("issued by a device the project has not certified")

    def _verified(self, statement: Statement) -> BaseModel:
        try:
            issuer_key = self._issuer_key(statement)
        except ValueError:
            raise CryptoError(f"a {statement.kind} statement with a malformed body") from None
        return verify_statement(
            statement,
            signing_key=self.root.verify_key(),
            issuer_key=issuer_key,
            project_id=self.root.project_id,
        )

    def _apply(
        self, statement: Statement, body: BaseModel, definition: dict[str, Any] | None
    ) -> str:
        """Apply a verified statement; returns its subject. CryptoError refuses it."""
        if definition is not None and not isinstance(body, FormBody):
            raise CryptoError("only a form statement carries a definition")
        if isinstance(body, ProjectBody):
            return self._apply_project(body)
        if isinstance(body, ProjectKeyBody):
            return self._apply_key(body)
        if isinstance(body, DeviceBody):
            return self._apply_certificate(statement, body)
        if isinstance(body, RevocationBody):
            return self._apply_revocation(statement, body)
        if isinstance(body, FormBody):
            return self._apply_form(statement, body, definition)
        if isinstance(body, EnrolOfferBody):
            return body.code_id  # kept; a coordinator opens its sealed secret when needed
        if isinstance(body, SettingsBody):
            return self._apply_settings(statement, body)
        if isinstance(body, ErasureBody | WithdrawalBody | AssignmentBody):
            from fieldkit.exchange.case_orders import apply_order

            return apply_order(self._ws, self, statement, body)
        raise CryptoError(f"a {statement.kind} statement this version cannot apply")

    def _apply_project(self, body: ProjectBody) -> str:
        if body.signing_key != self.root.signing_key:
            raise CryptoError("a project statement naming another signing key")
        if self.root.creator is not None and (
            (body.creator, body.creator_key) != (self.root.creator, self.root.creator_key)
        ):
            raise CryptoError("a project statement naming another creator")
        self.root = ProjectRoot(
            project_id=self.root.project_id,
            name=body.name,
            signing_key=self.root.signing_key,
            creator=body.creator,
            creator_key=body.creator_key,
        )
        self._caches.dirty.add(STATE_ROOT)
        from fieldkit.exchange._state import STATE_PROJECT_NAME

        self._ws.state.set(STATE_PROJECT_NAME, body.name)
        return "project"

    def _apply_key(self, body: ProjectKeyBody) -> str:
        if key_id(b64decode(body.public_key)) != body.key_id:
            raise CryptoError("a project key whose id does not match it")
        for known in self.project_keys():
            if known.key_id == body.key_id and known.generation not in (0, body.generation):
                raise CryptoError("a project key announced again under another generation")
            if known.generation == body.generation and known.key_id != body.key_id:
                raise CryptoError("two project keys of the same generation")
        self.add_project_key(
            ProjectKey(key_id=body.key_id, public_key=body.public_key, generation=body.generation)
        )
        return body.key_id

    def _apply_certificate(self, statement: Statement, body: DeviceBody) -> str:
        known = self._caches.devices.get(body.device_id)
        if known is not None:
            if known.get("revoked_at"):
                raise CryptoError("a certificate for a revoked device")
            if (known["x25519"], known["ed25519"], known["role"]) != (
                body.x25519,
                body.ed25519,
                body.role,
            ):
                raise CryptoError("a certificate that changes a device's keys or role")
            return body.device_id
        if self.root.creator == body.device_id and self.root.creator_key != body.ed25519:
            raise CryptoError("a certificate for the creator with another key")
        self._caches.devices[body.device_id] = {
            "role": body.role,
            "x25519": body.x25519,
            "ed25519": body.ed25519,
            "name": body.name,
            "issued_at": statement.issued_at,
            "revoked_at": None,
        }
        self._caches.dirty.add(STATE_DEVICES)
        return body.device_id

    def _apply_revocation(self, statement: Statement, body: RevocationBody) -> str:
        known = self._caches.devices.get(body.device_id)
        if known is None:
            # Revoked before this workspace saw its certificate: remembered, so a certificate
            # arriving later cannot bring it back.
            known = self._caches.devices[body.device_id] = {
                "role": "field",
                "x25519": "",
                "ed25519": "",
                "name": None,
                "issued_at": statement.issued_at,
                "revoked_at": None,
            }
        if not known.get("revoked_at"):
            known["revoked_at"] = statement.issued_at
            self._verify_keys.pop(body.device_id, None)
            self._caches.dirty.add(STATE_DEVICES)
            if body.device_id == self.device_id:
                # This laptop was revoked: the cases assigned to it leave it (DESIGN §5).
                from fieldkit.exchange.case_orders import honour_own_revocation

                honour_own_revocation(self._ws, self.device_id)
        return body.device_id

    def _apply_form(
        self, statement: Statement, body: FormBody, definition: dict[str, Any] | None
    ) -> str:
        if definition is None:
            raise CryptoError("a form statement without its definition")
        if definition_sha256(definition) != body.definition_sha256:
            raise CryptoError("a form whose content is not the one the project signed")
        if (str(definition.get("id_string") or ""), str(definition.get("version") or "")) != (
            body.form_id,
            body.version,
        ):
            raise CryptoError("a form whose id or version is not the one the project signed")
        try:
            self._ws.forms.add(definition, published_at=statement.issued_at)
        except FormError:
            raise CryptoError("a form version that clashes with one held here") from None
        return form_ref(body.form_id, body.version)

    def _apply_settings(self, statement: Statement, body: SettingsBody) -> str:
        held = self._ws.state.get(STATE_SETTINGS) or {}
        if isinstance(held, dict) and str(held.get("issued_at") or "") >= statement.issued_at:
            return "settings"  # an older statement (or a replay) changes nothing
        data = body.model_dump(mode="json")
        self._ws.state.set(STATE_SETTINGS, {"issued_at": statement.issued_at, "body": data})
        self._ws.state.set(STATE_CONTACTS, data["emergency_contacts"])
        return "settings"


def _ed25519(b64: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(b64decode(b64))


def encode_grant(*, signing_private: bytes, keys: list[ProjectKey]) -> bytes:
    """The plaintext of a key grant: the signing key and every encryption key (JSON)."""
    from sync.protocol import canonical_json

    return canonical_json(
        {
            "signing_key": base64.b64encode(signing_private).decode("ascii"),
            "encryption_keys": [
                {
                    "key_id": k.key_id,
                    "public_key": k.public_key,
                    "generation": k.generation,
                    "private_key": k.private_key,
                }
                for k in keys
                if k.private_key
            ],
        }
    )


def decode_grant(plain: bytes) -> tuple[bytes, list[ProjectKey]]:
    """The signing key and encryption keys of an opened grant; CryptoError if malformed."""
    try:
        data = json.loads(plain)
        signing = b64decode(str(data["signing_key"]))
        keys = [
            ProjectKey(
                key_id=str(k["key_id"]),
                public_key=str(k["public_key"]),
                generation=int(k["generation"]),
                private_key=str(k["private_key"]),
            )
            for k in data["encryption_keys"]
        ]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise CryptoError("a key grant that does not follow the protocol") from None
    return signing, keys
