"""The server's tables, as SQLModel models. Changes to them ship as alembic migrations.

The server stores sealed envelopes it cannot read, public keys, hashed tokens and a change
feed. Nothing here ever holds an answer, a private key or a token in clear.

One class per table (``…Row``, apart from sync.protocol's models of the same things on the
wire), each followed by its table under the lower-case name the code queries: the hot paths
(a push's ``INSERT … ON CONFLICT``, the feed's join) are SQLAlchemy Core statements on these
tables, so declaring them as models costs those paths nothing. A new table is a new class
here and a new migration in sync/server/migrations/versions that creates exactly it
(tests/sync/test_server_storage.py compares the two on SQLite and PostgreSQL); see
docs/internals.md, "Server tables".
"""

# No `from __future__ import annotations`: SQLModel reads the annotations as types.

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Index, LargeBinary, Table, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "admin_tokens",
    "attachment_parts",
    "attachments",
    "case_assignments",
    "changes",
    "counters",
    "devices",
    "enroll_codes",
    "envelopes",
    "forms",
    "key_grants",
    "metadata",
    "project_keys",
    "projects",
    "statements",
]

metadata = SQLModel.metadata

TS = DateTime(timezone=True)


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


class CounterRow(SQLModel, table=True):
    """One row per counter; `change` hands out change numbers under its row lock, so numbers
    follow commit order (DESIGN §6: a PostgreSQL sequence does not)."""

    __tablename__ = "counters"
    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(sa_type=BigInteger)


counters = _table(CounterRow)


class AdminTokenRow(SQLModel, table=True):
    __tablename__ = "admin_tokens"
    token_hash: str = Field(primary_key=True, max_length=64)  # sha256 hex of the token
    created_at: datetime = Field(sa_type=TS)


admin_tokens = _table(AdminTokenRow)


class ProjectRow(SQLModel, table=True):
    __tablename__ = "projects"
    project_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=100)
    created_at: datetime = Field(sa_type=TS)
    # PSK public half; None: made before signed statements.
    signing_key: str | None = Field(default=None, max_length=44)


projects = _table(ProjectRow)


class ProjectKeyRow(SQLModel, table=True):
    __tablename__ = "project_keys"
    project_id: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(primary_key=True, max_length=16)
    public_key: str = Field(max_length=44)
    created_at: datetime = Field(sa_type=TS)


project_keys = _table(ProjectKeyRow)


class DeviceRow(SQLModel, table=True):
    __tablename__ = "devices"
    device_id: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=100)
    x25519: str = Field(max_length=44)
    ed25519: str = Field(max_length=44)
    token_hash: str = Field(max_length=64, unique=True)
    enrolled_at: datetime = Field(sa_type=TS)
    revoked_at: datetime | None = Field(default=None, sa_type=TS)
    code_id: str | None = Field(default=None, max_length=32)  # the coordinator-made code spent
    enrol_mac: str | None = Field(default=None, max_length=44)  # its keys' MAC under the code
    certified_at: datetime | None = Field(default=None, sa_type=TS)  # certificate relayed
    refused_at: datetime | None = Field(default=None, sa_type=TS)  # keys did not match the code


devices = _table(DeviceRow)


class EnrollCodeRow(SQLModel, table=True):
    __tablename__ = "enroll_codes"
    code_hash: str = Field(primary_key=True, max_length=64)
    project_id: str = Field(max_length=64)
    role: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=TS)
    expires_at: datetime = Field(sa_type=TS)
    used_at: datetime | None = Field(default=None, sa_type=TS)
    used_by: str | None = Field(default=None, max_length=64)
    # The coordinator's signed enrol_offer statement (canonical JSON).
    offer: str | None = Field(default=None, sa_type=Text)


enroll_codes = _table(EnrollCodeRow)


class FormRow(SQLModel, table=True):
    __tablename__ = "forms"
    project_id: str = Field(primary_key=True, max_length=64)
    form_id: str = Field(primary_key=True, max_length=128)
    version: str = Field(primary_key=True, max_length=64)
    title: str | None = Field(default=None, max_length=500)
    definition: str = Field(sa_type=Text)  # canonical JSON
    definition_sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TS)


forms = _table(FormRow)


class EnvelopeRow(SQLModel, table=True):
    """Keyed by (device, record id): a record id names a record only within its device's
    scope."""

    __tablename__ = "envelopes"
    device_id: str = Field(primary_key=True, max_length=64)
    record_id: str = Field(primary_key=True, max_length=36)
    project_id: str = Field(max_length=64)
    body: bytes = Field(sa_type=LargeBinary)  # canonical envelope JSON (sealed)
    body_sha256: bytes = Field(sa_type=LargeBinary(32))
    received_at: datetime = Field(sa_type=TS)


envelopes = _table(EnvelopeRow)


class KeyGrantRow(SQLModel, table=True):
    __tablename__ = "key_grants"
    grant_id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    key_id: str | None = Field(default=None, max_length=16)  # None: every project key (v2)
    wrapped_private_key: str = Field(sa_type=Text)
    granted_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=TS)


key_grants = _table(KeyGrantRow)


class StatementRow(SQLModel, table=True):
    """What the project signed, relayed as received (DESIGN §3). `subject` is what it is about
    (a device id, a key id, a form version, a code id) for the server's own look-ups."""

    __tablename__ = "statements"
    __table_args__ = (Index("ix_statements_project_kind", "project_id", "kind", "subject"),)
    statement_id: str = Field(primary_key=True, max_length=32)
    project_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    subject: str = Field(max_length=255)
    body: str = Field(sa_type=Text)
    definition: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=TS)


statements = _table(StatementRow)


class ChangeRow(SQLModel, table=True):
    """The pull feed. `audience` NULL: every device of the project; else that device only (key
    grants addressed to it). Envelopes carry the pushing device as audience and go to every
    coordinator but that device: nobody is sent back what it sent (its own records)."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_project_change", "project_id", "change_no"),)
    change_no: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    project_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    ref: str = Field(max_length=255)
    audience: str | None = Field(default=None, max_length=64)


changes = _table(ChangeRow)


class CaseAssignmentRow(SQLModel, table=True):
    """Which device a case's envelopes are delivered to (an `assignment` statement): one
    assignee per envelope at a time; a transfer replaces the row, an erasure or a revocation
    removes it."""

    __tablename__ = "case_assignments"
    device_id: str = Field(primary_key=True, max_length=64)  # the envelope's device
    record_id: str = Field(primary_key=True, max_length=36)
    project_id: str = Field(max_length=64)
    assignee: str = Field(max_length=64, index=True)
    statement_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=TS)


case_assignments = _table(CaseAssignmentRow)


class AttachmentRow(SQLModel, table=True):
    """Sealed attachments (DESIGN §6a), scoped per device like envelopes: the stream as
    uploaded, part by part; `received` is how many bytes are held, in order, from the start."""

    __tablename__ = "attachments"
    device_id: str = Field(primary_key=True, max_length=64)
    attachment_id: str = Field(primary_key=True, max_length=32)
    project_id: str = Field(max_length=64)
    sealed_size: int = Field(sa_type=BigInteger)
    received: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(sa_type=TS)
    completed_at: datetime | None = Field(default=None, sa_type=TS)


attachments = _table(AttachmentRow)


class AttachmentPartRow(SQLModel, table=True):
    __tablename__ = "attachment_parts"
    device_id: str = Field(primary_key=True, max_length=64)
    attachment_id: str = Field(primary_key=True, max_length=32)
    offset: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    data: bytes = Field(sa_type=LargeBinary)


attachment_parts = _table(AttachmentPartRow)
