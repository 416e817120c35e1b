"""Projects, enrolment, devices, statements and key grants (DESIGN §3, §6, §8).

Since v2 the server is only a relay for trust: a project is created with three statements its
first coordinator signed (identity, encryption key, the coordinator's own certificate);
enrolment codes are made by coordinators, who tell the server only a code id and a signed
offer; a device that spends a code waits until a coordinator, who holds the code's secret,
checks the MAC over its keys and certifies it. The server's own checks below only keep an
honest server tidy — devices and coordinators never rely on them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.protocol import (
    AdminDevice,
    DeviceBody,
    EnrollingDevice,
    EnrollRequest,
    EnrollResponse,
    EnvelopeRef,
    FormPublishRequest,
    KeyGrantRequest,
    PendingEnrolment,
    ProjectBody,
    ProjectCreateRequest,
    ProjectCreateResponse,
    ProjectDevice,
    ProjectIdentity,
    ProjectKeyBody,
    Statement,
    b64decode,
    canonical_json,
    project_id_of,
)
from sync.server.auth import Caller, hash_secret, new_token, now
from sync.server.db import READ
from sync.server.errors import BadRequest, CodeRefused, Conflict, Forbidden, NotFound
from sync.server.feed import append_changes, form_ref
from sync.server.retry import in_transaction
from sync.server.schema import devices, enroll_codes, forms, key_grants, projects
from sync.server.settings import ServerSettings
from sync.server.statements import check_signatures, require_issuer, store_statement
from sync.server.timeutil import as_utc

__all__ = [
    "create_project",
    "enroll",
    "grant_key",
    "list_admin_devices",
    "list_project_devices",
    "pending_enrolments",
    "post_statement",
    "publish_form",
    "refuse_enrolment",
    "revoke_device",
    "upgrade_identity",
]


def _check_key(b64: str, what: str) -> bytes:
    try:
        raw = b64decode(b64)
    except ValueError:
        raise BadRequest(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise BadRequest(f"{what} must be 32 raw bytes")
    return raw


def _check_device_keys(keys: EnrollingDevice | EnrollRequest) -> None:
    _check_key(keys.x25519, "x25519")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(_check_key(keys.ed25519, "ed25519"))
    except ValueError:
        raise BadRequest("ed25519 is not a valid public key") from None


def _insert_device(
    conn: Connection,
    *,
    project_id: str,
    role: str,
    keys: EnrollingDevice | EnrollRequest,
    **extra: Any,
) -> str:
    taken = conn.execute(
        select(devices.c.device_id).where(devices.c.device_id == keys.device_id)
    ).first()
    if taken is not None:
        raise Conflict("this device id is already enrolled (make a new workspace to enrol again)")
    token = new_token()
    conn.execute(
        insert(devices).values(
            device_id=keys.device_id,
            project_id=project_id,
            role=role,
            name=keys.name,
            x25519=keys.x25519,
            ed25519=keys.ed25519,
            token_hash=hash_secret(token),
            enrolled_at=now(),
            **extra,
        )
    )
    return token


def create_project(
    engine: Engine, request: ProjectCreateRequest, *, settings: ServerSettings
) -> ProjectCreateResponse:
    """Make a project from its first coordinator's three signed statements (admin token)."""
    identity = request.statements[0]
    if [s.kind for s in request.statements] != ["project", "project_key", "device"]:
        raise BadRequest("a project starts with its project, project_key and device statements")
    device = request.device
    _check_device_keys(device)
    try:
        signing_key = ProjectBody.model_validate(identity.body).signing_key
    except ValidationError:
        raise BadRequest("project statement body does not follow the protocol") from None
    # The creator issues its own certificate: the one certificate nobody else could issue.
    bodies = [
        check_signatures(statement, signing_key=signing_key, issuer_key=device.ed25519)
        for statement in request.statements
    ]
    project, key, cert = bodies
    assert isinstance(project, ProjectBody)
    assert isinstance(key, ProjectKeyBody) and isinstance(cert, DeviceBody)
    project_id = project_id_of(_check_key(project.signing_key, "signing_key"))
    if any(s.project_id != project_id for s in request.statements):
        raise BadRequest("the project id is not the one its signing key names")
    if (project.creator, project.creator_key) != (device.device_id, device.ed25519) or any(
        s.issuer != device.device_id for s in request.statements
    ):
        raise BadRequest("the project's statements must be issued by its creating device")
    if (cert.device_id, cert.x25519, cert.ed25519, cert.role) != (
        device.device_id,
        device.x25519,
        device.ed25519,
        "coordinator",
    ):
        raise BadRequest("the creator's certificate must name the creating device as coordinator")

    def work(conn: Connection) -> str:
        if conn.execute(
            select(projects.c.project_id).where(projects.c.project_id == project_id)
        ).first():
            raise Conflict("this project exists already")
        conn.execute(
            insert(projects).values(
                project_id=project_id,
                name=project.name,
                signing_key=project.signing_key,
                created_at=now(),
            )
        )
        token = _insert_device(
            conn, project_id=project_id, role="coordinator", keys=device, certified_at=now()
        )
        for statement, body in zip(request.statements, bodies, strict=True):
            store_statement(
                conn,
                project_id=project_id,
                statement=statement,
                body=body,
                max_code_seconds=settings.max_enroll_code_seconds,
            )
        return token

    token = in_transaction(engine, work)
    return ProjectCreateResponse(
        project_id=project_id, device_id=device.device_id, token=token, role="coordinator"
    )


def post_statement(
    engine: Engine,
    *,
    caller: Caller,
    statement: Statement,
    definition: dict[str, Any] | None,
    settings: ServerSettings,
) -> str:
    """Relay a statement a coordinator signed: `created`, or `unchanged` when it is here."""
    assert caller.project_id is not None and caller.device_id is not None
    project_id = caller.project_id
    if statement.project_id != project_id:
        raise BadRequest("the statement is for another project")
    if statement.issuer != caller.device_id:
        raise Forbidden("a coordinator may post only statements it issued")

    def work(conn: Connection) -> str:
        signing_key = conn.execute(
            select(projects.c.signing_key).where(projects.c.project_id == project_id)
        ).scalar_one()
        if signing_key is None:
            raise Conflict(
                "this project has no signing identity yet: run `fieldkit project upgrade-trust`"
            )
        issuer_key = require_issuer(conn, project_id=project_id, issuer=caller.device_id or "")
        body = check_signatures(statement, signing_key=signing_key, issuer_key=issuer_key)
        created = store_statement(
            conn,
            project_id=project_id,
            statement=statement,
            body=body,
            definition=definition,
            max_code_seconds=settings.max_enroll_code_seconds,
        )
        return "created" if created else "unchanged"

    try:
        status = in_transaction(engine, work)
    except IntegrityError:
        # The same statement posted twice at the same moment: judge again.
        status = in_transaction(engine, work)
    if statement.kind == "erasure" and engine.dialect.name == "sqlite":
        from sync.server.case_orders import truncate_wal

        truncate_wal(engine)
    return status


def upgrade_identity(
    engine: Engine, *, caller: Caller, statements: list[Statement], settings: ServerSettings
) -> None:
    """Give a project made before v2 its signing identity (its first coordinator's call):
    the project statement, then the caller's own certificate, then key statements."""
    assert caller.project_id is not None and caller.device_id is not None
    project_id, device_id = caller.project_id, caller.device_id
    if len(statements) < 3 or [s.kind for s in statements[:2]] != ["project", "device"]:
        raise BadRequest("an upgrade starts with the project and its coordinator's certificate")
    try:
        identity = ProjectBody.model_validate(statements[0].body)
    except ValidationError:
        raise BadRequest("project statement body does not follow the protocol") from None
    if identity.creator != device_id or any(s.issuer != device_id for s in statements):
        raise BadRequest("the upgrade's statements must be issued by the calling coordinator")
    if identity.creator_key != caller.ed25519:
        raise BadRequest("the upgrade's statements must be issued by the calling coordinator")
    if any(s.project_id != project_id for s in statements):
        raise BadRequest("the statements are for another project")

    def work(conn: Connection) -> None:
        row = conn.execute(
            select(projects.c.signing_key).where(projects.c.project_id == project_id)
        ).one()
        if row.signing_key is not None:
            raise Conflict("this project has a signing identity already")
        own = conn.execute(
            select(devices.c.ed25519).where(devices.c.device_id == device_id)
        ).scalar_one()
        conn.execute(
            update(projects)
            .where(projects.c.project_id == project_id)
            .values(signing_key=identity.signing_key)
        )
        for statement in statements:
            body = check_signatures(statement, signing_key=identity.signing_key, issuer_key=own)
            if isinstance(body, DeviceBody) and body.device_id == device_id:
                conn.execute(
                    update(devices)
                    .where(devices.c.device_id == device_id)
                    .values(certified_at=now())
                )
            store_statement(
                conn,
                project_id=project_id,
                statement=statement,
                body=body,
                max_code_seconds=settings.max_enroll_code_seconds,
            )

    in_transaction(engine, work)


def enroll(engine: Engine, request: EnrollRequest) -> EnrollResponse:
    """Spend a coordinator-made code (found by its id): register the device's keys and its MAC
    for the coordinator to check; hand back its token, the project identity and the offer."""
    _check_device_keys(request)
    _check_key(request.mac, "mac")

    def work(conn: Connection) -> EnrollResponse:
        stamp = now()
        code = conn.execute(
            select(enroll_codes).where(enroll_codes.c.code_hash == request.code_id)
        ).first()
        if (
            code is None
            or code.offer is None
            or code.used_at is not None
            or as_utc(code.expires_at) <= stamp
        ):
            raise CodeRefused("enrolment code is unknown, already used or expired")
        project = conn.execute(
            select(projects.c.name, projects.c.signing_key).where(
                projects.c.project_id == code.project_id
            )
        ).one()
        token = _insert_device(
            conn,
            project_id=code.project_id,
            role=code.role,
            keys=request,
            code_id=request.code_id,
            enrol_mac=request.mac,
        )
        # Spend the code only if nobody spent it meanwhile (two laptops, one code).
        spent = conn.execute(
            update(enroll_codes)
            .where(enroll_codes.c.code_hash == request.code_id, enroll_codes.c.used_at.is_(None))
            .values(used_at=stamp, used_by=request.device_id)
        )
        if spent.rowcount != 1:
            raise CodeRefused("enrolment code is unknown, already used or expired")
        return EnrollResponse(
            device_id=request.device_id,
            token=token,
            role=code.role,
            project=ProjectIdentity(
                project_id=code.project_id, name=project.name, signing_key=project.signing_key
            ),
            offer=Statement.model_validate_json(code.offer),
            server_time=stamp,
        )

    return in_transaction(engine, work)


def pending_enrolments(engine: Engine, *, caller: Caller) -> list[PendingEnrolment]:
    """Devices of the caller's project that spent a code and wait for a certificate."""
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        rows = conn.execute(
            select(devices)
            .where(
                devices.c.project_id == caller.project_id,
                devices.c.code_id.is_not(None),
                devices.c.certified_at.is_(None),
                devices.c.refused_at.is_(None),
                devices.c.revoked_at.is_(None),
            )
            .order_by(devices.c.enrolled_at)
        ).all()
    return [
        PendingEnrolment(
            device_id=r.device_id,
            code_id=r.code_id,
            x25519=r.x25519,
            ed25519=r.ed25519,
            name=r.name,
            mac=r.enrol_mac,
            enrolled_at=as_utc(r.enrolled_at),
        )
        for r in rows
    ]


def refuse_enrolment(engine: Engine, *, caller: Caller, device_id: str) -> None:
    """A coordinator found that an enrolment's keys do not match its code: stop that token."""

    def work(conn: Connection) -> None:
        stamp = now()
        changed = conn.execute(
            update(devices)
            .where(
                devices.c.device_id == device_id,
                devices.c.project_id == caller.project_id,
                devices.c.certified_at.is_(None),
            )
            .values(refused_at=stamp, revoked_at=stamp)
        )
        if changed.rowcount != 1:
            raise NotFound("no such uncertified device in this project")

    in_transaction(engine, work)


def _admin_device(r: Row[Any]) -> AdminDevice:
    return AdminDevice(
        device_id=r.device_id,
        project_id=r.project_id,
        role=r.role,
        name=r.name,
        x25519=r.x25519,
        ed25519=r.ed25519,
        enrolled_at=as_utc(r.enrolled_at),
        revoked_at=as_utc(r.revoked_at) if r.revoked_at else None,
    )


_DEVICE_COLUMNS = [c for c in devices.c if c.name not in ("token_hash", "enrol_mac")]


def list_admin_devices(engine: Engine) -> list[AdminDevice]:
    """Every enrolled device of every project (the admin's view; no token hashes)."""
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        rows = conn.execute(select(*_DEVICE_COLUMNS).order_by(devices.c.enrolled_at)).all()
    return [_admin_device(r) for r in rows]


def list_project_devices(engine: Engine, *, caller: Caller) -> list[ProjectDevice]:
    """The caller's project devices with their public keys, as the server registered them
    (untrusted: coordinators use it only to confirm legacy devices by fingerprint)."""
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        rows = conn.execute(
            select(*_DEVICE_COLUMNS)
            .where(devices.c.project_id == caller.project_id)
            .order_by(devices.c.enrolled_at)
        ).all()
    return [
        ProjectDevice(
            device_id=r.device_id,
            role=r.role,
            name=r.name,
            x25519=r.x25519,
            ed25519=r.ed25519,
            revoked=r.revoked_at is not None,
        )
        for r in rows
    ]


def revoke_device(engine: Engine, device_id: str) -> AdminDevice:
    """The admin stops a device's token at once (the project learns it on pull, unsigned; a
    coordinator's signed revocation is what devices act on)."""

    def work(conn: Connection) -> AdminDevice:
        changed = conn.execute(
            update(devices)
            .where(devices.c.device_id == device_id, devices.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        row = conn.execute(select(*_DEVICE_COLUMNS).where(devices.c.device_id == device_id)).first()
        if row is None:
            raise NotFound("no such device")
        if changed.rowcount == 1:
            append_changes(conn, [(row.project_id, "revocation", device_id, None)])
        return _admin_device(row)

    return in_transaction(engine, work)


def publish_form(engine: Engine, *, caller: Caller, request: FormPublishRequest) -> str:
    """A form version for a project made before v2 (unsigned); `unchanged` if re-sent."""
    assert caller.project_id is not None
    project_id = caller.project_id
    definition = canonical_json(request.definition).decode("utf-8")
    digest = hashlib.sha256(definition.encode("utf-8")).hexdigest()
    key = (
        forms.c.project_id == project_id,
        forms.c.form_id == request.form_id,
        forms.c.version == request.version,
    )

    def work(conn: Connection) -> str:
        signing_key = conn.execute(
            select(projects.c.signing_key).where(projects.c.project_id == project_id)
        ).scalar_one()
        if signing_key is not None:
            raise Conflict("this project's forms are signed statements (POST /v1/statements)")
        existing = conn.execute(select(forms.c.definition_sha256).where(*key)).first()
        if existing is not None:
            if existing.definition_sha256 == digest:
                return "unchanged"
            raise Conflict("this form version is already published with another definition")
        conn.execute(
            insert(forms).values(
                project_id=project_id,
                form_id=request.form_id,
                version=request.version,
                title=request.title,
                definition=definition,
                definition_sha256=digest,
                created_at=now(),
            )
        )
        append_changes(
            conn, [(project_id, "form", form_ref(request.form_id, request.version), None)]
        )
        return "created"

    try:
        return in_transaction(engine, work)
    except IntegrityError:
        # Two coordinators published the same version at the same moment: judge again.
        return in_transaction(engine, work)


def grant_key(engine: Engine, *, caller: Caller, request: KeyGrantRequest) -> None:
    """Relay the project's private keys, sealed by a coordinator to a certified coordinator."""
    assert caller.project_id is not None and caller.device_id is not None
    project_id, granter = caller.project_id, caller.device_id
    try:
        b64decode(request.wrapped)
    except ValueError:
        raise BadRequest("wrapped is not valid base64") from None

    def work(conn: Connection) -> None:
        target = conn.execute(
            select(devices.c.revoked_at, devices.c.role, devices.c.certified_at).where(
                devices.c.device_id == request.device_id, devices.c.project_id == project_id
            )
        ).first()
        if target is None or target.revoked_at is not None:
            raise NotFound("no such active device in this project")
        if target.role != "coordinator" or target.certified_at is None:
            raise BadRequest("project keys go only to a certified coordinator")
        grant_id = conn.execute(
            insert(key_grants)
            .values(
                project_id=project_id,
                device_id=request.device_id,
                key_id=None,
                wrapped_private_key=request.wrapped,
                granted_by=granter,
                created_at=now(),
            )
            .returning(key_grants.c.grant_id)
        ).scalar_one()
        append_changes(conn, [(project_id, "key_grant", str(grant_id), request.device_id)])

    in_transaction(engine, work)


def fetch_envelopes(engine: Engine, *, caller: Caller, refs: list[EnvelopeRef]) -> bytes:
    """The envelopes of this project named by ``refs`` (a coordinator assigning a case)."""
    from sync.server.case_orders import fetch_envelopes as fetch

    assert caller.project_id is not None
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        return fetch(conn, project_id=caller.project_id, refs=refs)
