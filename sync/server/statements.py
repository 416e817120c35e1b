"""Statements the project signed, as the server relays them (DESIGN §3).

The server is not trusted with them — devices and coordinators verify every statement against
the project signing key they pinned — but an honest server checks them too, so that a
coordinator's mistake or a stolen coordinator token cannot fill the feed with junk: the project
signing key and the issuing coordinator's registered device key must both have signed it, and
the issuer must be the caller. Then each kind's side effect on the server's own tables:
a certificate marks its device certified, a revocation stops the device's token, a form version
is stored for enrolment, an enrolment offer makes its code spendable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, insert, select, update

from sync.protocol import (
    AssignmentBody,
    DeviceBody,
    EnrolOfferBody,
    ErasureBody,
    FormBody,
    ProjectBody,
    ProjectKeyBody,
    RevocationBody,
    Statement,
    WithdrawalBody,
    b64decode,
    canonical_json,
    definition_sha256,
    key_id,
    statement_body,
    statement_bytes,
    statement_id,
)
from sync.server import case_orders
from sync.server.auth import now
from sync.server.errors import BadRequest, Conflict, Forbidden, NotFound
from sync.server.feed import COORDINATORS, Change, append_changes, form_ref
from sync.server.schema import devices, enroll_codes, forms, project_keys, projects, statements
from sync.server.timeutil import as_utc

__all__ = [
    "COORDINATORS",
    "check_signatures",
    "parse_stamp",
    "require_issuer",
    "store_statement",
    "subject_of",
]


def parse_stamp(text: str) -> datetime:
    """A protocol time stamp (``2026-12-01T09:30:00.000Z``) as an aware datetime; BadRequest
    for one that has the shape but names no real instant (month 80)."""
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise BadRequest("a time stamp that names no real instant") from None


def check_signatures(statement: Statement, *, signing_key: str, issuer_key: str) -> BaseModel:
    """The statement's body if both signatures hold (PSK and issuer); BadRequest otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signed = statement_bytes(statement)
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(signing_key)).verify(
            b64decode(statement.signature), signed
        )
    except (InvalidSignature, ValueError):
        raise BadRequest("statement is not signed by the project's signing key") from None
    try:
        Ed25519PublicKey.from_public_bytes(b64decode(issuer_key)).verify(
            b64decode(statement.issuer_signature), signed
        )
    except (InvalidSignature, ValueError):
        raise BadRequest("statement is not signed by its issuer's device key") from None
    try:
        return statement_body(statement)
    except ValidationError:
        raise BadRequest(f"{statement.kind} statement body does not follow the protocol") from None


def subject_of(statement: Statement, body: BaseModel) -> str:
    """What a statement is about, for the server's look-ups and the client's replay checks."""
    if isinstance(body, DeviceBody | RevocationBody):
        return body.device_id
    if isinstance(body, ProjectKeyBody):
        return body.key_id
    if isinstance(body, FormBody):
        return form_ref(body.form_id, body.version)
    if isinstance(body, EnrolOfferBody):
        return body.code_id
    if isinstance(body, ErasureBody | WithdrawalBody | AssignmentBody):
        return body.order_id  # never the case: the server does not learn it
    return statement.kind  # project, settings: one of each, the latest current


def store_statement(
    conn: Connection,
    *,
    project_id: str,
    statement: Statement,
    body: BaseModel,
    definition: dict[str, Any] | None = None,
    max_code_seconds: int = 30 * 24 * 3600,
) -> bool:
    """Apply a verified statement's side effect and add it to the feed; False if it is here."""
    if isinstance(body, FormBody):
        _check_definition(body, definition)
    elif definition is not None:
        raise BadRequest("only a form statement carries a definition")
    sid = statement_id(statement)
    exists = conn.execute(
        select(statements.c.statement_id).where(statements.c.statement_id == sid)
    ).first()
    if exists is not None:
        return False
    stored_definition = _apply(
        conn,
        project_id=project_id,
        statement=statement,
        body=body,
        definition=definition,
        max_code_seconds=max_code_seconds,
    )
    conn.execute(
        insert(statements).values(
            statement_id=sid,
            project_id=project_id,
            kind=statement.kind,
            subject=subject_of(statement, body),
            body=canonical_json(statement.model_dump(mode="json")).decode("utf-8"),
            definition=stored_definition,
            created_at=now(),
        )
    )
    audience = COORDINATORS if statement.kind == "enrol_offer" else None
    feed: list[Change] = [(project_id, "statement", sid, audience)]
    if isinstance(body, AssignmentBody):
        # After the statement: the device has taken the order before its envelopes arrive.
        feed += case_orders.apply_assignment(
            conn, project_id=project_id, body=body, statement_id=sid
        )
    append_changes(conn, feed)
    return True


def _apply(
    conn: Connection,
    *,
    project_id: str,
    statement: Statement,
    body: BaseModel,
    definition: dict[str, Any] | None,
    max_code_seconds: int,
) -> str | None:
    """The server-side effect of one statement; returns the form definition text to keep."""
    stamp = now()
    if isinstance(body, ProjectBody):
        row = conn.execute(
            select(projects.c.signing_key).where(projects.c.project_id == project_id)
        ).one()
        if row.signing_key != body.signing_key:
            raise BadRequest("a project statement must name the project's own signing key")
        conn.execute(
            update(projects).where(projects.c.project_id == project_id).values(name=body.name)
        )
    elif isinstance(body, ProjectKeyBody):
        if key_id(b64decode(body.public_key)) != body.key_id:
            raise BadRequest("key_id does not match public_key")
        known = conn.execute(
            select(project_keys.c.key_id).where(
                project_keys.c.project_id == project_id, project_keys.c.key_id == body.key_id
            )
        ).first()
        if known is None:
            conn.execute(
                insert(project_keys).values(
                    project_id=project_id,
                    key_id=body.key_id,
                    public_key=body.public_key,
                    created_at=stamp,
                )
            )
    elif isinstance(body, DeviceBody):
        device = _device(conn, project_id, body.device_id)
        if device.x25519 != body.x25519 or device.ed25519 != body.ed25519:
            raise BadRequest("the certificate's keys are not the keys this device enrolled with")
        if device.role != body.role:
            raise BadRequest("the certificate's role is not the role this device enrolled in")
        conn.execute(
            update(devices)
            .where(devices.c.device_id == body.device_id, devices.c.certified_at.is_(None))
            .values(certified_at=stamp)
        )
    elif isinstance(body, RevocationBody):
        _device(conn, project_id, body.device_id)
        conn.execute(
            update(devices)
            .where(devices.c.device_id == body.device_id, devices.c.revoked_at.is_(None))
            .values(revoked_at=stamp)
        )
        case_orders.forget_assignee(conn, project_id=project_id, device_id=body.device_id)
    elif isinstance(body, ErasureBody):
        case_orders.apply_erasure(conn, project_id=project_id, body=body)
    elif isinstance(body, FormBody):
        return _store_form(conn, project_id=project_id, body=body, definition=definition)
    # (a definition beside any other kind is refused in store_statement)
    elif isinstance(body, EnrolOfferBody):
        expires = parse_stamp(body.expires_at)
        if (expires - stamp).total_seconds() > max_code_seconds:
            raise BadRequest(f"an enrolment code may last {max_code_seconds // 86400} days at most")
        taken = conn.execute(
            select(enroll_codes.c.code_hash).where(enroll_codes.c.code_hash == body.code_id)
        ).first()
        if taken is not None:
            raise Conflict("this enrolment code id is already in use")
        conn.execute(
            insert(enroll_codes).values(
                code_hash=body.code_id,
                project_id=project_id,
                role=body.role,
                created_at=stamp,
                expires_at=expires,
                offer=canonical_json(statement.model_dump(mode="json")).decode("utf-8"),
            )
        )
    return None


def _device(conn: Connection, project_id: str, device_id: str) -> Any:
    row = conn.execute(
        select(devices.c.x25519, devices.c.ed25519, devices.c.role).where(
            devices.c.device_id == device_id, devices.c.project_id == project_id
        )
    ).first()
    if row is None:
        raise NotFound("no such device in this project")
    return row


def _check_definition(body: FormBody, definition: dict[str, Any] | None) -> dict[str, Any]:
    if definition is None:
        raise BadRequest("a form statement needs the form's definition")
    if definition_sha256(definition) != body.definition_sha256:
        raise BadRequest("the definition is not the one the statement signs")
    if (
        str(definition.get("id_string") or "") != body.form_id
        or str(definition.get("version") or "") != body.version
    ):
        raise BadRequest("the definition's form_id or version is not the statement's")
    return definition


def _store_form(
    conn: Connection, *, project_id: str, body: FormBody, definition: dict[str, Any] | None
) -> str:
    definition = _check_definition(body, definition)
    text = canonical_json(definition).decode("utf-8")
    key = (
        forms.c.project_id == project_id,
        forms.c.form_id == body.form_id,
        forms.c.version == body.version,
    )
    existing = conn.execute(select(forms.c.definition_sha256).where(*key)).first()
    if existing is not None and existing.definition_sha256 != body.definition_sha256:
        raise Conflict("this form version is already published with another definition")
    if existing is None:
        conn.execute(
            insert(forms).values(
                project_id=project_id,
                form_id=body.form_id,
                version=body.version,
                title=body.title,
                definition=text,
                definition_sha256=body.definition_sha256,
                created_at=now(),
            )
        )
    return text


def require_issuer(conn: Connection, *, project_id: str, issuer: str) -> str:
    """The registered Ed25519 key of a certified, unrevoked coordinator of the project."""
    row = conn.execute(
        select(
            devices.c.ed25519, devices.c.role, devices.c.certified_at, devices.c.revoked_at
        ).where(devices.c.device_id == issuer, devices.c.project_id == project_id)
    ).first()
    if row is None or row.role != "coordinator" or row.certified_at is None:
        raise Forbidden("statements are issued by a certified coordinator of the project")
    if row.revoked_at is not None:
        raise Forbidden("this coordinator has been revoked")
    return str(row.ed25519)
