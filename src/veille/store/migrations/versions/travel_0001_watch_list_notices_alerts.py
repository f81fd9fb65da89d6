"""Travel watch: watch-list entries, travel notices, alerts.

Revision ID: travel_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "travel_0001"
down_revision = None
branch_labels = ("travel",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "travel_watch_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_id", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("transliterations", sa.JSON(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("issuing_agency_id", sa.Integer(), nullable=True),
        sa.Column("issuing_country", sa.String(length=2), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["issuing_agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("watch_id"),
    )
    op.create_index("ix_travel_watch_entry_valid_until", "travel_watch_entry", ["valid_until"])
    op.create_table(
        "travel_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("document_number", sa.String(length=64), nullable=True),
        sa.Column("departure_country", sa.String(length=2), nullable=False),
        sa.Column("destination_country", sa.String(length=2), nullable=False),
        sa.Column("departure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id"),
    )
    op.create_index("ix_travel_notice_matched_at", "travel_notice", ["matched_at"])
    op.create_table(
        "travel_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("watch_id", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched_fields", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("destination_country", sa.String(length=2), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["travel_notice.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["travel_watch_entry.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "watch_id", name="uq_travel_alert_notice_watch"),
    )
    op.create_index("ix_travel_alert_agency_state", "travel_alert", ["agency_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_travel_alert_agency_state", table_name="travel_alert")
    op.drop_table("travel_alert")
    op.drop_index("ix_travel_notice_matched_at", table_name="travel_notice")
    op.drop_table("travel_notice")
    op.drop_index("ix_travel_watch_entry_valid_until", table_name="travel_watch_entry")
    op.drop_table("travel_watch_entry")
