"""The server's tables (SQLAlchemy Core). Changes to them ship as alembic migrations.

The server stores sealed envelopes it cannot read, public keys, hashed tokens and a change
feed. Nothing here ever holds an answer, a private key or a token in clear.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "admin_tokens",
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

metadata = MetaData()

TS = DateTime(timezone=True)

# One row per counter; `change` hands out change numbers under its row lock, so numbers follow
# commit order (DESIGN §6: a PostgreSQL sequence does not).
counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 hex of the token
    Column("created_at", TS, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("signing_key", String(44)),  # PSK public half; None: made before signed statements
)

project_keys = Table(
    "project_keys",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("key_id", String(16), primary_key=True),
    Column("public_key", String(44), nullable=False),
    Column("created_at", TS, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("name", String(100)),
    Column("x25519", String(44), nullable=False),
    Column("ed25519", String(44), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("enrolled_at", TS, nullable=False),
    Column("revoked_at", TS),
    Column("code_id", String(32)),  # the coordinator-made code it spent
    Column("enrol_mac", String(44)),  # its keys' MAC under the code, for the coordinator
    Column("certified_at", TS),  # a coordinator's certificate for it was relayed
    Column("refused_at", TS),  # a coordinator found its keys do not match its code
)

enroll_codes = Table(
    "enroll_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Column("used_by", String(64)),
    Column("offer", Text),  # the coordinator's signed enrol_offer statement (canonical JSON)
)

forms = Table(
    "forms",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("form_id", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("title", String(500)),
    Column("definition", Text, nullable=False),  # canonical JSON
    Column("definition_sha256", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
)

# Keyed by (device, record id): a record id names a record only within its device's scope.
envelopes = Table(
    "envelopes",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("record_id", String(36), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),  # canonical envelope JSON (sealed)
    Column("body_sha256", LargeBinary(32), nullable=False),
    Column("received_at", TS, nullable=False),
)

key_grants = Table(
    "key_grants",
    metadata,
    Column("grant_id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("key_id", String(16)),  # None: a grant of every project key (v2)
    Column("wrapped_private_key", Text, nullable=False),
    Column("granted_by", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
)

# What the project signed, relayed as received (DESIGN §3). `subject` is what it is about
# (a device id, a key id, a form version, a code id) for the server's own look-ups.
statements = Table(
    "statements",
    metadata,
    Column("statement_id", String(32), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("definition", Text),
    Column("created_at", TS, nullable=False),
    Index("ix_statements_project_kind", "project_id", "kind", "subject"),
)

# The pull feed. `audience` NULL: every device of the project; else that device only (key
# grants addressed to it). Envelopes carry the pushing device as audience and go to every
# coordinator but that device: nobody is sent back what it sent (its own records).
changes = Table(
    "changes",
    metadata,
    Column("change_no", BigInteger, primary_key=True, autoincrement=False),
    Column("project_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(255), nullable=False),
    Column("audience", String(64)),
    Index("ix_changes_project_change", "project_id", "change_no"),
)

# Which device a case's envelopes are delivered to (an `assignment` statement): one assignee
# per envelope at a time; a transfer replaces the row, an erasure or a revocation removes it.
case_assignments = Table(
    "case_assignments",
    metadata,
    Column("device_id", String(64), primary_key=True),  # the envelope's device
    Column("record_id", String(36), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("assignee", String(64), nullable=False, index=True),
    Column("statement_id", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
)
