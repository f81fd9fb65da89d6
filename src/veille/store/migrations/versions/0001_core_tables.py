"""Core tables: agencies, reports, media items, identifiers, shares and audit events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:

    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(country) = 2", name="ck_agency_country_alpha2"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("platform", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "value", "platform", name="uq_identifier_kind_value_platform"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_object", ["object_type", "object_id"], unique=False)

    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("reporter_kind", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stated_country", sa.String(length=2), nullable=True),
        sa.Column("derived_country", sa.String(length=2), nullable=True),
        sa.Column("country_reason", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=200), nullable=True),
        sa.Column("platform_category", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("marking", sa.String(length=32), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"],
            ["agency.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_report_source_external_id"),
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index("ix_report_category", ["platform_category"], unique=False)
        batch_op.create_index("ix_report_derived_country", ["derived_country"], unique=False)
        batch_op.create_index("ix_report_owner", ["owner_agency_id"], unique=False)
        batch_op.create_index("ix_report_received_at", ["received_at"], unique=False)

    op.create_table(
        "media_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("media_item", schema=None) as batch_op:
        batch_op.create_index("ix_media_item_md5", ["md5"], unique=False)
        batch_op.create_index("ix_media_item_report", ["report_id"], unique=False)
        batch_op.create_index("ix_media_item_sha256", ["sha256"], unique=False)

    op.create_table(
        "report_flag",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "flag"),
    )
    op.create_table(
        "report_identifier",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("identifier_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier_id"],
            ["identifier.id"],
        ),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "identifier_id"),
    )
    with op.batch_alter_table("report_identifier", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_identifier_identifier", ["identifier_id", "report_id"], unique=False
        )

    op.create_table(
        "report_offence",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("offence_type", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "offence_type"),
    )
    with op.batch_alter_table("report_offence", schema=None) as batch_op:
        batch_op.create_index("ix_report_offence_type", ["offence_type"], unique=False)

    op.create_table(
        "report_share",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
        ),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "agency_id"),
    )
    with op.batch_alter_table("report_share", schema=None) as batch_op:
        batch_op.create_index("ix_report_share_agency", ["agency_id", "report_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("report_share", schema=None) as batch_op:
        batch_op.drop_index("ix_report_share_agency")

    op.drop_table("report_share")
    with op.batch_alter_table("report_offence", schema=None) as batch_op:
        batch_op.drop_index("ix_report_offence_type")

    op.drop_table("report_offence")
    with op.batch_alter_table("report_identifier", schema=None) as batch_op:
        batch_op.drop_index("ix_report_identifier_identifier")

    op.drop_table("report_identifier")
    op.drop_table("report_flag")
    with op.batch_alter_table("media_item", schema=None) as batch_op:
        batch_op.drop_index("ix_media_item_sha256")
        batch_op.drop_index("ix_media_item_report")
        batch_op.drop_index("ix_media_item_md5")

    op.drop_table("media_item")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_received_at")
        batch_op.drop_index("ix_report_owner")
        batch_op.drop_index("ix_report_derived_country")
        batch_op.drop_index("ix_report_category")

    op.drop_table("report")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_object")

    op.drop_table("audit_event")
    op.drop_table("identifier")
    op.drop_table("agency")
