"""Who is calling: bearer tokens (stored as SHA-256 only), roles and projects (DESIGN §6)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, Engine, insert, select

from sync.server.db import READ
from sync.server.errors import Forbidden, Unauthenticated
from sync.server.schema import admin_tokens, devices

__all__ = [
    "Caller",
    "authenticate",
    "hash_secret",
    "new_token",
    "now",
    "require_admin",
    "require_coordinator",
    "require_device",
    "store_admin_token",
]

Role = Literal["admin", "field", "coordinator"]


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the admin, or an enrolled, unrevoked device."""

    role: Role
    device_id: str | None = None
    project_id: str | None = None
    ed25519: str | None = None  # base64 raw public key the device registered at enrolment


def now() -> datetime:
    """The server clock (UTC)."""
    return datetime.now(UTC)


def new_token() -> str:
    """A random bearer token: 32 bytes from the OS CSPRNG, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a token or code: the only form the server keeps (tokens are random
    and long, so a plain hash is enough; no password stretching needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def store_admin_token(conn: Connection, token: str) -> None:
    """Remember an admin token (hashed)."""
    conn.execute(insert(admin_tokens).values(token_hash=hash_secret(token), created_at=now()))


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise Unauthenticated("malformed Authorization header; expected 'Bearer <token>'")
    return token


def authenticate(engine: Engine, authorization: str | None) -> Caller:
    """Resolve an Authorization header to a Caller, or raise Unauthenticated (401)."""
    digest = hash_secret(_bearer(authorization))
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        row = conn.execute(
            select(
                devices.c.device_id,
                devices.c.project_id,
                devices.c.role,
                devices.c.ed25519,
                devices.c.revoked_at,
            ).where(devices.c.token_hash == digest)
        ).first()
        if row is not None:
            if row.revoked_at is not None:
                raise Unauthenticated("this device has been revoked")
            return Caller(
                role=row.role,
                device_id=row.device_id,
                project_id=row.project_id,
                ed25519=row.ed25519,
            )
        admin = conn.execute(
            select(admin_tokens.c.token_hash).where(admin_tokens.c.token_hash == digest)
        ).first()
    if admin is not None:
        return Caller(role="admin")
    raise Unauthenticated("unknown token")


def require_admin(caller: Caller) -> None:
    """Only the admin token may call this."""
    if caller.role != "admin":
        raise Forbidden("this call needs the admin token")


def require_device(caller: Caller) -> None:
    """Only an enrolled device (field or coordinator) may call this."""
    if caller.device_id is None:
        raise Forbidden("this call needs a device token")


def require_coordinator(caller: Caller) -> None:
    """Only a coordinator device may call this."""
    if caller.role != "coordinator":
        raise Forbidden("this call needs a coordinator device")
