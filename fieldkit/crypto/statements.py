"""Signing and checking the project's statements (DESIGN §3: the coordinator is the root).

Pure: a signing key and a statement's fields in, a ``sync.protocol.Statement`` out; a statement
and the pinned public key in, its validated body out. What is signed is defined once, in
``sync.protocol.statement_bytes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from fieldkit.errors import CryptoError
from sync.protocol import (
    Statement,
    b64decode,
    b64encode,
    statement_body,
    statement_bytes,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = ["check_project_signature", "sign_statement", "verify_statement"]


def sign_statement(
    signing_key: Ed25519PrivateKey,
    *,
    issuer_key: Ed25519PrivateKey,
    kind: str,
    project_id: str,
    issuer: str,
    issued_at: str,
    body: BaseModel | dict[str, Any],
) -> Statement:
    """A statement of ``kind`` about ``body``, signed with the project signing key and with
    the issuing coordinator's own device key."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
    unsigned = {
        "kind": kind,
        "project_id": project_id,
        "issuer": issuer,
        "issued_at": issued_at,
        "body": data,
    }
    signed = statement_bytes(unsigned)
    signatures = {
        "signature": b64encode(signing_key.sign(signed)),
        "issuer_signature": b64encode(issuer_key.sign(signed)),
    }
    try:
        statement = Statement.model_validate({**unsigned, **signatures})
        statement_body(statement)
    except ValidationError as exc:
        problem = _first(exc)
        raise CryptoError(f"a {kind} statement does not follow the protocol: {problem}") from None
    return statement


def verify_statement(
    statement: Statement,
    *,
    signing_key: Ed25519PublicKey,
    issuer_key: Ed25519PublicKey,
    project_id: str,
) -> BaseModel:
    """The statement's body when it is signed by the project's ``signing_key`` and by its
    issuer's ``issuer_key``, for ``project_id``; CryptoError otherwise (the message names the
    reason, never the content)."""
    from cryptography.exceptions import InvalidSignature

    if statement.project_id != project_id:
        raise CryptoError("a statement for another project")
    signed = statement_bytes(statement)
    try:
        signing_key.verify(b64decode(statement.signature), signed)
    except (InvalidSignature, ValueError):
        raise CryptoError("not signed by the project") from None
    try:
        issuer_key.verify(b64decode(statement.issuer_signature), signed)
    except (InvalidSignature, ValueError):
        raise CryptoError("not signed by the coordinator it names") from None
    try:
        return statement_body(statement)
    except ValidationError:
        raise CryptoError(f"a {statement.kind} statement with a malformed body") from None


def _first(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid"
    where = ".".join(str(part) for part in errors[0].get("loc", ()))
    return f"{where}: {errors[0].get('msg', 'invalid')}"


def check_project_signature(
    statement: Statement, *, signing_key: Ed25519PublicKey, project_id: str
) -> BaseModel:
    """Only the project signature of a statement (its issuer checked elsewhere, e.g. by a MAC
    under an enrolment code); CryptoError when it does not hold."""
    from cryptography.exceptions import InvalidSignature

    if statement.project_id != project_id:
        raise CryptoError("a statement for another project")
    try:
        signing_key.verify(b64decode(statement.signature), statement_bytes(statement))
    except (InvalidSignature, ValueError):
        raise CryptoError("not signed by the project") from None
    try:
        return statement_body(statement)
    except ValidationError:
        raise CryptoError(f"a {statement.kind} statement with a malformed body") from None
