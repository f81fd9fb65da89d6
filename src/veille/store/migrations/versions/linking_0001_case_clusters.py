"""Linking: case clusters, report links with evidence, anchors, stop-list, deconfliction alerts.

Revision ID: linking_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "linking_0001"
down_revision = None
branch_labels = ("linking",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "case_cluster",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("agency_count", sa.Integer(), nullable=False),
        sa.Column("country_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_cluster_size", "case_cluster", ["size"])
    op.create_table(
        "report_cluster",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_index("ix_report_cluster_cluster", "report_cluster", ["cluster_id", "report_id"])
    op.create_table(
        "link_anchor",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "report_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("other_report_id", sa.Integer(), nullable=False),
        sa.Column("evidence_kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_link_report", "report_link", ["report_id"])
    op.create_index("ix_report_link_other", "report_link", ["other_report_id"])
    op.create_table(
        "link_stop_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("is_network", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_link_stop_entry_key"),
    )
    op.create_table(
        "deconfliction_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("other_agency_id", sa.Integer(), nullable=False),
        sa.Column("other_disclosed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["other_agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "cluster_id", "agency_id", "other_agency_id", name="uq_deconfliction_alert_pair"
        ),
    )
    op.create_index("ix_deconfliction_alert_agency", "deconfliction_alert", ["agency_id"])


def downgrade() -> None:
    op.drop_index("ix_deconfliction_alert_agency", table_name="deconfliction_alert")
    op.drop_table("deconfliction_alert")
    op.drop_table("link_stop_entry")
    op.drop_index("ix_report_link_other", table_name="report_link")
    op.drop_index("ix_report_link_report", table_name="report_link")
    op.drop_table("report_link")
    op.drop_table("link_anchor")
    op.drop_index("ix_report_cluster_cluster", table_name="report_cluster")
    op.drop_table("report_cluster")
    op.drop_index("ix_case_cluster_size", table_name="case_cluster")
    op.drop_table("case_cluster")
