"""Cases assigned to a device: which envelopes it is delivered, under a coordinator's order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add case_assignments: one assignee per envelope at a time (a transfer replaces it)."""
    op.create_table(
        "case_assignments",
        sa.Column("device_id", sa.String(64), primary_key=True),  # the envelope's device
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=False),
        sa.Column("statement_id", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_case_assignments_assignee", "case_assignments", ["assignee"])


def downgrade() -> None:
    """Drop case_assignments."""
    op.drop_index("ix_case_assignments_assignee", table_name="case_assignments")
    op.drop_table("case_assignments")
