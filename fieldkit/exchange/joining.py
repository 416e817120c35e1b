"""Joining a project: create it, make enrolment codes, enrol a laptop, certify what enrolled
(DESIGN §3 "Enrolment codes are made by a coordinator, not by the server").

The flow, and who can forge what:

1. ``create_project`` (first coordinator, admin token): the project signing key (PSK) and the
   first encryption key (PEK) are made here; the server gets three signed statements and
   public halves only. The project id is derived from the PSK.
2. ``make_code`` (any coordinator): a random secret S makes a code id (the server's look-up)
   and a MAC key. The coordinator signs an offer with a MAC over the project identity and S
   sealed to the project key (so any coordinator can certify), and prints the code: S, the
   fingerprint's first characters and a check character.
3. ``enroll`` (the new laptop): sends only the code id, its keys and a MAC over them; checks
   that the identity the server shows matches the code's fingerprint and the coordinator's
   MAC before it stores anything.
4. ``certify_pending`` (any coordinator, on every sync): checks each waiting device's MAC with
   S and only then signs its certificate; a second coordinator also gets the project's private
   keys sealed to its certified key. A server without S can neither swap keys nor invent a
   device: the MAC fails and the enrolment is refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fieldkit.crypto import enrolment as codes
from fieldkit.crypto.hpke import key_id, public_raw, unwrap, wrap
from fieldkit.crypto.statements import check_project_signature
from fieldkit.errors import AuthError, CryptoError, ProtocolError, UsageError
from fieldkit.exchange._state import (
    Enrolment,
    ProjectRoot,
    check_server,
    enrolment,
    open_client,
    refuse_second_enrolment,
    save_enrolment,
)
from fieldkit.exchange._trust import (
    GRANT_INFO,
    SECRET_INFO,
    EnrolmentSecret,
    ProjectKey,
    Trust,
    encode_grant,
    stamp,
)
from fieldkit.exchange.code import EnrolmentCode
from sync.protocol import (
    DeviceBody,
    EnrollResponse,
    EnrolOfferBody,
    PendingEnrolment,
    ProjectBody,
    ProjectIdentity,
    ProjectKeyBody,
    Statement,
    b64decode,
    b64encode,
    fingerprint,
    project_id_of,
)

if TYPE_CHECKING:
    from fieldkit.store import Workspace
    from sync.client import SyncClient

__all__ = [
    "Certified",
    "Enrolled",
    "IssuedCode",
    "certify_pending",
    "create_project",
    "grant_keys",
    "open_grant",
    "enroll",
    "make_code",
    "require_trust",
]

_ROLES = ("field", "coordinator")


@dataclass(frozen=True)
class Enrolled:
    """The outcome of enrolment or project creation."""

    server: str
    project_id: str
    project_name: str
    device_id: str
    role: str
    fingerprint: str
    forms: int

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"Enrolled as {self.role} device {self.device_id} in project "
            f"{self.project_name or self.project_id} (fingerprint {self.fingerprint}); "
            f"{self.forms} form version(s) received."
        )


@dataclass(frozen=True)
class IssuedCode:
    """A one-time enrolment code made by a coordinator."""

    code: EnrolmentCode
    role: str
    expires_at: str


@dataclass
class Certified:
    """What one round of certification did."""

    certified: list[tuple[str, str]] = field(default_factory=list)  # (device id, role)
    refused: list[str] = field(default_factory=list)  # device ids whose MAC did not hold
    waiting: int = 0  # codes this laptop cannot open yet (another coordinator's, keys pending)


def require_trust(ws: Workspace, *, signer: bool = False) -> tuple[Enrolment, Trust]:
    """The enrolment and its trust state; UsageError for a project without a signing identity,
    AuthError when ``signer`` and this laptop cannot sign for the project."""
    info = enrolment(ws)
    if info.root is None:
        raise UsageError(
            "this project has no signing identity yet: a coordinator runs "
            "`fieldkit project upgrade-trust` (see docs/security.md)"
        )
    trust = Trust(ws, info.root, device_id=info.device_id)
    if signer and (not info.is_coordinator or trust.signing_private() is None):
        raise AuthError(
            "only a coordinator holding the project keys can do this "
            "(a new coordinator receives them once certified)"
        )
    return info, trust


def _keys_b64(ws: Workspace) -> tuple[str, str]:
    return b64encode(ws.device.x25519_public), b64encode(ws.device.ed25519_public)


def create_project(
    ws: Workspace,
    name: str,
    *,
    server: str,
    admin_token: str,
    insecure_http: bool = False,
    device_name: str | None = None,
    ca_bundle: str | None = None,
    **client_options: Any,
) -> Enrolled:
    """Make the project's signing and encryption keys here, register their public halves with
    three signed statements, and enrol this laptop as the project's first coordinator."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from sync.client import SyncClient

    refuse_second_enrolment(ws)
    psk = Ed25519PrivateKey.generate()
    psk_public = psk.public_key().public_bytes(Encoding.Raw, _raw_public())
    pek = X25519PrivateKey.generate()
    pek_public = public_raw(pek.public_key())
    project_id = project_id_of(psk_public)
    device_id = ws.device_id
    x25519, ed25519 = _keys_b64(ws)

    signed = founding_signer(psk, ws, project_id=project_id, issuer=device_id)

    statements = [
        signed(
            "project",
            ProjectBody(
                name=name, signing_key=b64encode(psk_public), creator=device_id, creator_key=ed25519
            ),
        ),
        signed(
            "project_key",
            ProjectKeyBody(
                key_id=key_id(pek_public), public_key=b64encode(pek_public), generation=1
            ),
        ),
        signed(
            "device",
            DeviceBody(
                device_id=device_id,
                role="coordinator",
                x25519=x25519,
                ed25519=ed25519,
                name=device_name,
            ),
        ),
    ]
    device = {"device_id": device_id, "x25519": x25519, "ed25519": ed25519}
    if device_name:
        device["name"] = device_name
    client = SyncClient(server, insecure_http=insecure_http, ca_bundle=ca_bundle, **client_options)
    with client:
        check_server(client)
        reply = client.create_project(
            {"statements": [s.model_dump(mode="json") for s in statements], "device": device},
            admin_token=admin_token,
        )
    if reply.get("project_id") != project_id or reply.get("device_id") != device_id:
        raise ProtocolError("the server's reply names another project or device")
    root = ProjectRoot(
        project_id=project_id,
        name=name,
        signing_key=b64encode(psk_public),
        creator=device_id,
        creator_key=ed25519,
    )
    info = Enrolment(
        server_url=client.base_url,
        token=str(reply["token"]),
        device_id=device_id,
        project_id=project_id,
        project_name=name,
        role="coordinator",
        insecure_http=insecure_http,
        ca_bundle=ca_bundle,
        root=root,
    )
    with ws.transaction():
        save_enrolment(ws, info)
        trust = Trust(ws, root, device_id=device_id)
        trust.set_signing_private(
            psk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        )
        trust.add_project_key(
            ProjectKey(
                key_id=key_id(pek_public),
                public_key=b64encode(pek_public),
                generation=1,
                private_key=b64encode(
                    pek.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
                ),
            )
        )
        for statement in statements:
            verdict = trust.accept(statement)
            if not verdict.accepted:
                raise CryptoError(f"a statement made here does not verify: {verdict.reason}")
        trust.flush()
    return Enrolled(
        server=client.base_url,
        project_id=project_id,
        project_name=name,
        device_id=device_id,
        role="coordinator",
        fingerprint=root.fingerprint,
        forms=0,
    )


def founding_signer(
    psk: Any, ws: Workspace, *, project_id: str, issuer: str
) -> Callable[[str, Any], Statement]:
    """Sign a project's founding statements (creation, upgrade) at one instant, by its creator."""
    from fieldkit.crypto.statements import sign_statement

    issued_at = stamp()

    def signed(kind: str, body: Any) -> Statement:
        return sign_statement(
            psk,
            issuer_key=ws.device.ed25519,
            kind=kind,
            project_id=project_id,
            issuer=issuer,
            issued_at=issued_at,
            body=body,
        )

    return signed


def _raw_public() -> Any:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    return PublicFormat.Raw


def make_code(
    ws: Workspace,
    *,
    role: str,
    expires_seconds: int,
    server: str | None = None,
    **client_options: Any,
) -> IssuedCode:
    """Coordinator: a one-time code for ``role``; the server is told only its id and a signed
    offer (DESIGN §3)."""
    issued, offer, secret = _new_offer(ws, role=role, expires_seconds=expires_seconds)
    _, client = open_client(ws, server=server, **client_options)
    with client:
        check_server(client)
        client.post_statement({"statement": offer.model_dump(mode="json")})
    _keep_offer(ws, issued, offer, secret)
    return issued


def make_offline_code(ws: Workspace, *, role: str, expires_seconds: int) -> IssuedCode:
    """Coordinator: a one-time code for a laptop that enrols from a bundle (no server told);
    the offer travels in the enrolment bundle instead (DESIGN §6b)."""
    issued, offer, secret = _new_offer(ws, role=role, expires_seconds=expires_seconds)
    _keep_offer(ws, issued, offer, secret)
    return issued


def _keep_offer(ws: Workspace, issued: IssuedCode, offer: Statement, secret: bytes) -> None:
    info, trust = require_trust(ws, signer=True)
    with ws.transaction():
        trust.remember_code(
            EnrolmentSecret(
                code_id=codes.code_id(secret),
                secret=secret,
                role=issued.role,
                expires_at=issued.expires_at,
                used_by=None,
            )
        )
        trust.accept(offer)
        trust.flush()


def _new_offer(
    ws: Workspace, *, role: str, expires_seconds: int
) -> tuple[IssuedCode, Statement, bytes]:
    """A new code's secret and its signed offer (nothing stored or sent yet)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from fieldkit.clock import utc_now, utc_text

    if role not in _ROLES:
        raise UsageError("role must be field or coordinator")
    if not 60 <= expires_seconds <= 30 * 24 * 3600:
        raise UsageError("a code lasts between 1 minute and 30 days")
    info, trust = require_trust(ws, signer=True)
    assert info.root is not None
    current = trust.current_key()
    if current is None:
        raise CryptoError("this workspace knows no project encryption key")
    secret = os.urandom(codes.SECRET_BYTES)
    cid = codes.code_id(secret)
    expires_at = utc_text(utc_now() + timedelta(seconds=expires_seconds))
    sealed = wrap(
        secret,
        public_key=X25519PublicKey.from_public_bytes(b64decode(current.public_key)),
        info=SECRET_INFO + cid.encode("ascii"),
    )
    offer = trust.issue(
        "enrol_offer",
        EnrolOfferBody(
            code_id=cid,
            role=role,  # type: ignore[arg-type]
            expires_at=expires_at,
            identity_mac=b64encode(
                codes.identity_mac(
                    secret, project_id=info.root.project_id, signing_key=info.root.signing_key
                )
            ),
            key_id=current.key_id,
            sealed_secret=b64encode(sealed),
        ),
    )
    issued = IssuedCode(
        code=EnrolmentCode.make(secret, fingerprint=info.root.fingerprint),
        role=role,
        expires_at=expires_at,
    )
    return issued, offer, secret


def enroll(
    ws: Workspace,
    url: str,
    code: str,
    *,
    insecure_http: bool = False,
    name: str | None = None,
    ca_bundle: str | None = None,
    **client_options: Any,
) -> Enrolled:
    """Enrol this laptop with a coordinator's one-time code: refuse a server whose project is
    not the code's, keep the token inside the encrypted workspace, take forms and keys."""
    from sync.client import SyncClient

    refuse_second_enrolment(ws)
    parsed = EnrolmentCode.parse(code)
    cid = codes.code_id(parsed.secret)
    x25519, ed25519 = _keys_b64(ws)
    device_id = ws.device_id
    mac = codes.device_mac(
        parsed.secret, code=cid, device_id=device_id, x25519=x25519, ed25519=ed25519, name=name
    )
    body: dict[str, Any] = {
        "code_id": cid,
        "device_id": device_id,
        "x25519": x25519,
        "ed25519": ed25519,
        "mac": b64encode(mac),
    }
    if name:
        body["name"] = name
    client = SyncClient(url, insecure_http=insecure_http, ca_bundle=ca_bundle, **client_options)
    with client:
        check_server(client)
        # A spent, unknown or expired code is the server's `enrolment_code_refused`: its own
        # one-line error (sync.client), exit 4.
        reply = _enrol_reply(client.enroll(body))
        root = _check_identity(reply, parsed, device_id=device_id)
        info = Enrolment(
            server_url=client.base_url,
            token=reply.token,
            device_id=device_id,
            project_id=root.project_id,
            project_name=root.name,
            role=reply.role,
            insecure_http=insecure_http,
            ca_bundle=ca_bundle,
            root=root,
        )
        save_enrolment(ws, info)
        client.token = info.token
        # Forms, keys and certificates come as signed statements, checked like any pull.
        from fieldkit.exchange.transfer import pull_statements

        summary = pull_statements(ws, client)
    return Enrolled(
        server=client.base_url,
        project_id=root.project_id,
        project_name=enrolment(ws).project_name,
        device_id=device_id,
        role=reply.role,
        fingerprint=root.fingerprint,
        forms=summary.forms,
    )


def _enrol_reply(data: dict[str, Any]) -> EnrollResponse:
    try:
        return EnrollResponse.model_validate(data)
    except ValidationError:
        raise ProtocolError("the server's enrolment reply does not follow the protocol") from None


def _check_identity(reply: EnrollResponse, code: EnrolmentCode, *, device_id: str) -> ProjectRoot:
    """The project identity the server shows, if it is the one the code was made for."""
    root = check_offer(reply.project, reply.offer, code, role=reply.role)
    if reply.device_id != device_id:
        raise ProtocolError("the server's enrolment reply names another device")
    return root


def check_offer(
    identity: ProjectIdentity, offer: Statement, code: EnrolmentCode, *, role: str
) -> ProjectRoot:
    """The project identity shown (by a server, or in an enrolment bundle), if it is the one
    the code was made for: fingerprint prefix, the coordinator's MAC and the offer's project
    signature; CryptoError (nothing stored) otherwise."""
    try:
        signing_raw = b64decode(identity.signing_key)
    except ValueError:
        raise ProtocolError("the server's project identity is malformed") from None
    shown = fingerprint(signing_raw)
    refusal = CryptoError(
        f"this server's project (fingerprint {shown}) is not the one your enrolment code was "
        "made for: nothing was stored; tell your coordinator"
    )
    if not code.matches(shown):
        raise refusal
    # The fingerprint prefix is short; the coordinator's MAC under the code's secret is proof.
    expected = codes.identity_mac(
        code.secret, project_id=identity.project_id, signing_key=identity.signing_key
    )
    try:
        offer_body = EnrolOfferBody.model_validate(offer.body)
        given = b64decode(offer_body.identity_mac)
    except (ValidationError, ValueError):
        raise refusal from None
    if offer.kind != "enrol_offer" or not codes.mac_matches(expected, given):
        raise refusal
    root = ProjectRoot(
        project_id=identity.project_id, name=identity.name, signing_key=identity.signing_key
    )
    # The offer is signed by the project's key; its issuer is a coordinator this laptop has no
    # certificate of yet, and the MAC above already ties the offer to the code.
    try:
        check_project_signature(offer, signing_key=root.verify_key(), project_id=root.project_id)
    except (CryptoError, ValueError):
        raise refusal from None
    if offer_body.code_id != codes.code_id(code.secret) or offer_body.role != role:
        raise refusal
    return root


def certify_pending(ws: Workspace, client: SyncClient, info: Enrolment, trust: Trust) -> Certified:
    """Coordinator: certify every device that spent a code this laptop can open and whose keys
    carry the code's MAC; refuse (and stop) those whose MAC fails. Part of every sync."""
    result = Certified()
    if not info.is_coordinator or trust.signing_private() is None:
        return result
    for item in client.enrolments():
        try:
            pending = PendingEnrolment.model_validate(item)
        except ValidationError:
            raise ProtocolError(
                "the server's enrolment list does not follow the protocol"
            ) from None
        certificate = certificate_for(trust, pending)
        if certificate is None:
            result.waiting += 1  # another coordinator's code whose secret is not open here yet
            continue
        if isinstance(certificate, str):
            # Keys the laptop did not send (the server or someone on the way changed them),
            # or a second device on one code: never certified.
            client.refuse_enrolment(pending.device_id)
            result.refused.append(pending.device_id)
            continue
        role = str(certificate.body["role"])
        client.post_statement({"statement": certificate.model_dump(mode="json")})
        with ws.transaction():
            trust.mark_code_used(pending.code_id, pending.device_id)
            verdict = trust.accept(certificate)
            trust.flush()
        if not verdict.accepted:
            raise CryptoError(f"a certificate made here does not verify: {verdict.reason}")
        if role == "coordinator":
            grant_keys(client, trust, device_id=pending.device_id)
        result.certified.append((pending.device_id, role))
    return result


def certificate_for(trust: Trust, pending: PendingEnrolment) -> Statement | str | None:
    """The certificate for a device that spent a code, if its MAC holds under the code's
    secret; why not (text) when it does not; None when this laptop cannot open the code."""
    secret = trust.code(pending.code_id)
    if secret is None:
        return None
    expected = codes.device_mac(
        secret.secret,
        code=pending.code_id,
        device_id=pending.device_id,
        x25519=pending.x25519,
        ed25519=pending.ed25519,
        name=pending.name,
    )
    if secret.used_by not in (None, pending.device_id):
        return "the enrolment code was already used by another device"
    if not codes.mac_matches(expected, b64decode(pending.mac)):
        return "keys that do not match their enrolment code"
    return trust.issue(
        "device",
        DeviceBody(
            device_id=pending.device_id,
            role=secret.role,  # type: ignore[arg-type]
            x25519=pending.x25519,
            ed25519=pending.ed25519,
            name=pending.name,
            code_id=pending.code_id,
        ),
    )


def grant_keys(client: SyncClient, trust: Trust, *, device_id: str) -> None:
    """Seal the project's private keys to a certified coordinator's own key and relay them."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    cert = trust.certificate(device_id)
    if cert is None or not cert.active or cert.role != "coordinator":
        raise UsageError(f"device {device_id} is not a certified coordinator of this project")
    signing = trust.signing_private()
    if signing is None:
        raise AuthError("this workspace holds no project keys to hand on")
    plain = encode_grant(
        signing_private=signing.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        keys=trust.project_keys(),
    )
    recipient = X25519PublicKey.from_public_bytes(b64decode(cert.x25519))
    sealed = wrap(plain, public_key=recipient, info=GRANT_INFO + device_id.encode("ascii"))
    client.grant_key({"device_id": device_id, "wrapped": b64encode(sealed)})


def open_grant(ws: Workspace, trust: Trust, wrapped: str) -> int:
    """Take the project keys sealed to this laptop, if they are the project's own: the signing
    key must be the pinned one and each encryption key one the project announced. Returns the
    number of keys taken (0 for anything else)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from fieldkit.exchange._trust import decode_grant

    try:
        plain = unwrap(
            b64decode(wrapped),
            private_key=ws.device.x25519,
            info=GRANT_INFO + trust.device_id.encode("ascii"),
        )
        signing_raw, keys = decode_grant(plain)
        signing = Ed25519PrivateKey.from_private_bytes(signing_raw)
    except (CryptoError, ValueError):
        return 0
    public = signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if b64encode(public) != trust.root.signing_key:
        return 0
    announced = {k.key_id: k for k in trust.project_keys()}
    taken = 0
    for key in keys:
        known = announced.get(key.key_id)
        if known is None or key.private_key is None:
            continue
        try:
            private = X25519PrivateKey.from_private_bytes(b64decode(key.private_key))
        except ValueError:
            continue
        if b64encode(public_raw(private.public_key())) != known.public_key:
            continue
        if known.private_key is None:
            trust.add_project_key(
                ProjectKey(
                    key_id=known.key_id,
                    public_key=known.public_key,
                    generation=known.generation,
                    private_key=key.private_key,
                )
            )
            taken += 1
    if trust.signing_private() is None:
        trust.set_signing_private(signing_raw)
        taken += 1
    return taken
