"""Analytics: imported database-usage events and counts published by others.

Revision ID: analytics_0002
Revises: analytics_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "analytics_0002"
down_revision = "analytics_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_usage_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_analytics_usage_source_event",
        "analytics_usage_event",
        ["source", "event_id"],
        unique=True,
    )
    op.create_index("ix_analytics_usage_agency_at", "analytics_usage_event", ["agency_id", "at"])
    op.create_table(
        "analytics_published_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ux_analytics_published",
        "analytics_published_count",
        ["source", "country", "period_start", "period_end", "measure"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_analytics_published", table_name="analytics_published_count")
    op.drop_table("analytics_published_count")
    op.drop_index("ix_analytics_usage_agency_at", table_name="analytics_usage_event")
    op.drop_index("ux_analytics_usage_source_event", table_name="analytics_usage_event")
    op.drop_table("analytics_usage_event")
