"""Linking: candidate links, weak evidence kept for review without merging clusters.

Revision ID: linking_0003
Revises: linking_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "linking_0003"
down_revision = "linking_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("other_report_id", sa.Integer(), nullable=False),
        sa.Column("evidence_kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_candidate_report", "link_candidate", ["report_id"])
    op.create_index("ix_link_candidate_other", "link_candidate", ["other_report_id"])


def downgrade() -> None:
    op.drop_index("ix_link_candidate_other", table_name="link_candidate")
    op.drop_index("ix_link_candidate_report", table_name="link_candidate")
    op.drop_table("link_candidate")
