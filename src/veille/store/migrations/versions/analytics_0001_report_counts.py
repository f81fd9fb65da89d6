"""Analytics: report-count rollups per week and month, the reports counted, trend alerts.

After upgrading, ``veille trends rebuild`` counts the reports already stored.

Revision ID: analytics_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "analytics_0001"
down_revision = None
branch_labels = ("analytics",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "analytics_report_count",
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reporter", sa.String(length=32), nullable=False),
        sa.Column("label_kind", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=48), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("marking", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain",
            "period",
            "country",
            "category",
            "channel",
            "reporter",
            "label_kind",
            "label",
            "owner_agency_id",
            "marking",
        ),
    )
    op.create_index(
        "ix_analytics_count_label",
        "analytics_report_count",
        ["grain", "label_kind", "label", "period"],
    )
    op.create_index(
        "ix_analytics_count_country", "analytics_report_count", ["grain", "country", "period"]
    )
    op.create_table(
        "analytics_rolled_report",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_table(
        "analytics_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_key", sa.String(length=200), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("marking", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_analytics_alert_series_week", "analytics_alert", ["series_key", "week"], unique=True
    )


def downgrade() -> None:
    op.drop_table("analytics_alert")
    op.drop_table("analytics_rolled_report")
    op.drop_index("ix_analytics_count_country", table_name="analytics_report_count")
    op.drop_index("ix_analytics_count_label", table_name="analytics_report_count")
    op.drop_table("analytics_report_count")
