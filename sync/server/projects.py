"""Projects, enrolment codes, devices, forms and key grants (DESIGN §3, §6, §8)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.protocol import (
    AdminDevice,
    DeviceKeys,
    EnrollCodeRequest,
    EnrollCodeResponse,
    EnrollRequest,
    EnrollResponse,
    FormDefinition,
    FormPublishRequest,
    KeyGrantRequest,
    ProjectCreateRequest,
    ProjectCreateResponse,
    ProjectDevice,
    ProjectInfo,
    ProjectKey,
    b64decode,
    canonical_json,
    key_id,
)
from sync.server.auth import Caller, hash_secret, new_token, now
from sync.server.db import READ
from sync.server.errors import BadRequest, Conflict, NotFound, Unauthenticated
from sync.server.feed import append_changes, form_ref
from sync.server.retry import in_transaction
from sync.server.schema import devices, enroll_codes, forms, key_grants, project_keys, projects
from sync.server.settings import ServerSettings
from sync.server.timeutil import as_utc

__all__ = [
    "create_enroll_code",
    "create_project",
    "enroll",
    "grant_key",
    "list_admin_devices",
    "list_project_devices",
    "normalize_code",
    "publish_form",
    "revoke_device",
]

# Crockford base32 (no I, L, O, U): easy to read aloud and type from a phone message.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_FIXES = str.maketrans("OIL", "011")
_CODE_CHARS = 16  # 80 bits: one-time, expiring, hashed; not guessable over HTTP


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_CHARS, 4))


def normalize_code(code: str) -> str:
    """The canonical form of a typed code: upper case, no dashes/spaces, O→0, I/L→1."""
    cleaned = code.upper().replace("-", "").replace(" ", "")
    return cleaned.translate(_CODE_FIXES)


def _check_key(b64: str, what: str) -> bytes:
    try:
        raw = b64decode(b64)
    except ValueError:
        raise BadRequest(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise BadRequest(f"{what} must be 32 raw bytes")
    return raw


def _check_device_keys(keys: DeviceKeys | EnrollRequest) -> None:
    _check_key(keys.x25519, "x25519")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(_check_key(keys.ed25519, "ed25519"))
    except ValueError:
        raise BadRequest("ed25519 is not a valid public key") from None


def _insert_device(
    conn: Connection, *, project_id: str, role: str, keys: DeviceKeys | EnrollRequest
) -> tuple[str, str]:
    device_id, token = _new_id("d_"), new_token()
    conn.execute(
        insert(devices).values(
            device_id=device_id,
            project_id=project_id,
            role=role,
            name=keys.name,
            x25519=keys.x25519,
            ed25519=keys.ed25519,
            token_hash=hash_secret(token),
            enrolled_at=now(),
        )
    )
    return device_id, token


def create_project(engine: Engine, request: ProjectCreateRequest) -> ProjectCreateResponse:
    """Make a project with its public key and enrol the creating coordinator laptop."""
    if key_id(_check_key(request.public_key, "public_key")) != request.key_id:
        raise BadRequest("key_id does not match public_key")
    _check_device_keys(request.coordinator)
    project_id = _new_id("p_")

    def work(conn: Connection) -> tuple[str, str]:
        stamp = now()
        conn.execute(
            insert(projects).values(project_id=project_id, name=request.name, created_at=stamp)
        )
        conn.execute(
            insert(project_keys).values(
                project_id=project_id,
                key_id=request.key_id,
                public_key=request.public_key,
                created_at=stamp,
            )
        )
        device = _insert_device(
            conn, project_id=project_id, role="coordinator", keys=request.coordinator
        )
        append_changes(conn, [(project_id, "project_key", request.key_id, None)])
        return device

    device_id, token = in_transaction(engine, work)
    return ProjectCreateResponse(
        project_id=project_id, device_id=device_id, token=token, role="coordinator"
    )


def create_enroll_code(
    engine: Engine, request: EnrollCodeRequest, *, settings: ServerSettings
) -> EnrollCodeResponse:
    """A one-time enrolment code for a role in a project (the only project when none named)."""
    seconds = min(request.expires_in_seconds, settings.max_enroll_code_seconds)
    code = _new_code()

    def work(conn: Connection) -> EnrollCodeResponse:
        project_id = request.project_id
        if project_id is None:
            ids = conn.execute(select(projects.c.project_id).limit(2)).scalars().all()
            if not ids:
                raise Conflict("no project yet: create one with `fieldkit project create`")
            if len(ids) > 1:
                raise BadRequest("this server has several projects: name one")
            project_id = ids[0]
        elif (
            conn.execute(
                select(projects.c.project_id).where(projects.c.project_id == project_id)
            ).first()
            is None
        ):
            raise NotFound("no such project")
        stamp = now()
        expires = stamp + timedelta(seconds=seconds)
        conn.execute(
            insert(enroll_codes).values(
                code_hash=hash_secret(normalize_code(code)),
                project_id=project_id,
                role=request.role,
                created_at=stamp,
                expires_at=expires,
            )
        )
        return EnrollCodeResponse(code=code, expires_at=expires)

    return in_transaction(engine, work)


def _project_info(conn: Connection, project_id: str) -> ProjectInfo:
    name = conn.execute(
        select(projects.c.name).where(projects.c.project_id == project_id)
    ).scalar_one()
    keys = [
        ProjectKey(key_id=k.key_id, public_key=k.public_key)
        for k in conn.execute(
            select(project_keys.c.key_id, project_keys.c.public_key)
            .where(project_keys.c.project_id == project_id)
            .order_by(project_keys.c.created_at)
        )
    ]
    return ProjectInfo(project_id=project_id, name=name, keys=keys)


def _project_forms(conn: Connection, project_id: str) -> list[FormDefinition]:
    return [
        FormDefinition.model_construct(
            form_id=f.form_id, version=f.version, title=f.title, definition=json.loads(f.definition)
        )
        for f in conn.execute(
            select(forms.c.form_id, forms.c.version, forms.c.title, forms.c.definition)
            .where(forms.c.project_id == project_id)
            .order_by(forms.c.created_at, forms.c.form_id, forms.c.version)
        )
    ]


def enroll(engine: Engine, request: EnrollRequest) -> EnrollResponse:
    """Spend a one-time code: register the device's public keys, hand back its token."""
    _check_device_keys(request)
    digest = hash_secret(normalize_code(request.code))

    def work(conn: Connection) -> EnrollResponse:
        stamp = now()
        code = conn.execute(select(enroll_codes).where(enroll_codes.c.code_hash == digest)).first()
        if code is None or code.used_at is not None or as_utc(code.expires_at) <= stamp:
            raise Unauthenticated("enrolment code is unknown, already used or expired")
        device_id, token = _insert_device(
            conn, project_id=code.project_id, role=code.role, keys=request
        )
        # Spend the code only if nobody spent it meanwhile (two laptops, one code).
        spent = conn.execute(
            update(enroll_codes)
            .where(enroll_codes.c.code_hash == digest, enroll_codes.c.used_at.is_(None))
            .values(used_at=stamp, used_by=device_id)
        )
        if spent.rowcount != 1:
            raise Unauthenticated("enrolment code is unknown, already used or expired")
        return EnrollResponse(
            device_id=device_id,
            token=token,
            role=code.role,
            project=_project_info(conn, code.project_id),
            forms=_project_forms(conn, code.project_id),
            server_time=stamp,
        )

    return in_transaction(engine, work)


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


_DEVICE_COLUMNS = [c for c in devices.c if c.name != "token_hash"]


def list_admin_devices(engine: Engine) -> list[AdminDevice]:
    """Every enrolled device of every project (the admin's view; no token hashes)."""
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        rows = conn.execute(select(*_DEVICE_COLUMNS).order_by(devices.c.enrolled_at)).all()
    return [_admin_device(r) for r in rows]


def list_project_devices(engine: Engine, *, caller: Caller) -> list[ProjectDevice]:
    """The caller's project devices with their public keys (to wrap a key to a coordinator)."""
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
    """Revoke a device: its token stops working at once; the project learns it on pull."""

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
    """Add a form version to the caller's project; `unchanged` if the same one is re-sent."""
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
    """Relay the project private key, wrapped by a coordinator to another project device."""
    assert caller.project_id is not None and caller.device_id is not None
    project_id, granter = caller.project_id, caller.device_id
    try:
        b64decode(request.wrapped_private_key)
    except ValueError:
        raise BadRequest("wrapped_private_key is not valid base64") from None

    def work(conn: Connection) -> None:
        target = conn.execute(
            select(devices.c.revoked_at).where(
                devices.c.device_id == request.device_id, devices.c.project_id == project_id
            )
        ).first()
        if target is None or target.revoked_at is not None:
            raise NotFound("no such active device in this project")
        known = conn.execute(
            select(func.count())
            .select_from(project_keys)
            .where(project_keys.c.project_id == project_id, project_keys.c.key_id == request.key_id)
        ).scalar_one()
        if not known:
            raise NotFound("no such key in this project")
        grant_id = conn.execute(
            insert(key_grants)
            .values(
                project_id=project_id,
                device_id=request.device_id,
                key_id=request.key_id,
                wrapped_private_key=request.wrapped_private_key,
                granted_by=granter,
                created_at=now(),
            )
            .returning(key_grants.c.grant_id)
        ).scalar_one()
        append_changes(conn, [(project_id, "key_grant", str(grant_id), request.device_id)])

    in_transaction(engine, work)
