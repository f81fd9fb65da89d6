"""Intake: failed ESP logins shared by every server process; files counted per ESP report.

Revision ID: intake_0003
Revises: intake_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_login_guard",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", _tz(), nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
    )
    op.create_index("ix_intake_login_guard_updated", "intake_login_guard", ["updated_at"])
    with op.batch_alter_table("intake_esp_report") as batch:
        batch.add_column(sa.Column("file_count", sa.Integer(), nullable=False, server_default="0"))
    # Reports open during the upgrade keep counting from the files they already have.
    op.execute(
        "UPDATE intake_esp_report SET file_count = (SELECT count(*) FROM intake_esp_file "
        "WHERE intake_esp_file.esp_report_id = intake_esp_report.id) WHERE state = 'open'"
    )


def downgrade() -> None:
    with op.batch_alter_table("intake_esp_report") as batch:
        batch.drop_column("file_count")
    op.drop_index("ix_intake_login_guard_updated", "intake_login_guard")
    op.drop_table("intake_login_guard")
