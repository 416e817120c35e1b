"""Trust rooted in the coordinator: signed statements, coordinator-made enrolment codes, device
certificates, and record ids scoped per device.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the statements table and the columns of coordinator-certified enrolment."""
    with op.batch_alter_table("projects") as batch:
        # The public half of the project signing key (None: a project made before v2).
        batch.add_column(sa.Column("signing_key", sa.String(44)))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("code_id", sa.String(32)))
        batch.add_column(sa.Column("enrol_mac", sa.String(44)))
        batch.add_column(sa.Column("certified_at", TS))
        batch.add_column(sa.Column("refused_at", TS))
    with op.batch_alter_table("enroll_codes") as batch:
        batch.add_column(sa.Column("offer", sa.Text))
    with op.batch_alter_table("key_grants") as batch:
        batch.alter_column("key_id", existing_type=sa.String(16), nullable=True)
    op.create_table(
        "statements",
        sa.Column("statement_id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text, nullable=False),  # the statement's canonical JSON
        sa.Column("definition", sa.Text),  # a form's canonical definition
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_statements_project_kind", "statements", ["project_id", "kind", "subject"])
    # Record ids are scoped per device: one device's id says nothing about another's records.
    op.create_table(
        "envelopes_v2",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("body_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.execute(
        "INSERT INTO envelopes_v2 (device_id, record_id, project_id, body, body_sha256, "
        "received_at) SELECT device_id, record_id, project_id, body, body_sha256, received_at "
        "FROM envelopes"
    )
    op.drop_table("envelopes")
    op.rename_table("envelopes_v2", "envelopes")


def downgrade() -> None:
    """Not supported: the old schema lets any device learn another's record ids."""
    raise NotImplementedError("the trust schema cannot be downgraded")
