"""Triage: policies, scores with reasons, work-queue items, unit capacity, referrals.

Revision ID: triage_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "triage_0001"
down_revision = None
branch_labels = ("triage",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "triage_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    op.create_table(
        "triage_score",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("inputs_digest", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_index("ix_triage_score_order", "triage_score", ["band", "due_at"])
    op.create_table(
        "triage_queue_item",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agency_id", "report_id"),
    )
    op.create_index("ix_triage_queue_item_state", "triage_queue_item", ["agency_id", "state"])
    op.create_table(
        "triage_unit_capacity",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("reports_per_day", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("agency_id"),
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("from_agency_id", sa.Integer(), nullable=False),
        sa.Column("to_agency_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["to_agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_referral_to", "referral", ["to_agency_id"])
    op.create_index("ix_referral_from", "referral", ["from_agency_id"])
    op.create_index("ix_referral_report", "referral", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_referral_report", table_name="referral")
    op.drop_index("ix_referral_from", table_name="referral")
    op.drop_index("ix_referral_to", table_name="referral")
    op.drop_table("referral")
    op.drop_table("triage_unit_capacity")
    op.drop_index("ix_triage_queue_item_state", table_name="triage_queue_item")
    op.drop_table("triage_queue_item")
    op.drop_index("ix_triage_score_order", table_name="triage_score")
    op.drop_table("triage_score")
    op.drop_table("triage_policy")
