"""Sealed attachments, stored blind part by part (issue 17).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the attachments and attachment_parts tables."""
    op.create_table(
        "attachments",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("attachment_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("sealed_size", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS),
    )
    op.create_table(
        "attachment_parts",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("attachment_id", sa.String(32), primary_key=True),
        sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    """Drop both tables (the sealed attachments they hold are lost)."""
    op.drop_table("attachment_parts")
    op.drop_table("attachments")
