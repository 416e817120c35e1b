"""Initial schema: projects, keys, devices, enrolment codes, forms, envelopes, change feed.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table and the change counter row."""
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "change", "value": 0}])
    op.create_table(
        "admin_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "projects",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "project_keys",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("x25519", sa.String(44), nullable=False),
        sa.Column("ed25519", sa.String(44), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
    )
    op.create_index("ix_devices_project_id", "devices", ["project_id"])
    op.create_table(
        "enroll_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.Column("used_by", sa.String(64)),
    )
    op.create_table(
        "forms",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("form_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(500)),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("definition_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "envelopes",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("body_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_table(
        "key_grants",
        sa.Column("grant_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("wrapped_private_key", sa.Text, nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("change_no", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("audience", sa.String(64)),
    )
    op.create_index("ix_changes_project_change", "changes", ["project_id", "change_no"])


def downgrade() -> None:
    """Drop everything (only for development databases)."""
    for name in (
        "changes",
        "key_grants",
        "envelopes",
        "forms",
        "enroll_codes",
        "devices",
        "project_keys",
        "projects",
        "admin_tokens",
        "counters",
    ):
        op.drop_table(name)
