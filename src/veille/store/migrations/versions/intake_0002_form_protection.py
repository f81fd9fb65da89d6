"""Intake: server secrets and rate-limit counters shared by every server process.

Revision ID: intake_0002
Revises: intake_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_server_secret",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("secret_hex", sa.String(128), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
    )
    op.create_table(
        "intake_rate_limit",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", _tz(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_intake_rate_limit_window", "intake_rate_limit", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_intake_rate_limit_window", "intake_rate_limit")
    op.drop_table("intake_rate_limit")
    op.drop_table("intake_server_secret")
