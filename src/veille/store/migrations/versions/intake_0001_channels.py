"""Intake channels: ESP submissions and files, credentials, API keys, media jobs.

Revision ID: intake_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0001"
down_revision = None
branch_labels = ("intake",)
depends_on = "0001"


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_esp_credential",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agency_id",
            sa.Integer(),
            sa.ForeignKey("agency.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("username", sa.String(200), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
    )
    op.create_table(
        "intake_api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agency_id",
            sa.Integer(),
            sa.ForeignKey("agency.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(300), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("revoked_at", _tz(), nullable=True),
    )
    op.create_table(
        "intake_esp_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agency_id",
            sa.Integer(),
            sa.ForeignKey("agency.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=False),
        sa.Column("opened_at", _tz(), nullable=False),
        sa.Column("changed_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.Column("finished_at", _tz(), nullable=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("report.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_intake_esp_report_state_expires", "intake_esp_report", ["state", "expires_at"]
    )
    op.create_table(
        "intake_esp_file",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "esp_report_id",
            sa.Integer(),
            sa.ForeignKey("intake_esp_report.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("file_id", sa.String(64), nullable=False, unique=True),
        sa.Column("file_name", sa.String(500), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("sha1", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("spool_path", sa.String(1000), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
    )
    op.create_index("ix_intake_esp_file_report", "intake_esp_file", ["esp_report_id"])
    op.create_table(
        "intake_media_detail",
        sa.Column(
            "media_item_id",
            sa.Integer(),
            sa.ForeignKey("media_item.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("esp_file_id", sa.String(64), nullable=True),
        sa.Column("industry_classification", sa.String(2), nullable=True),
        sa.Column("file_relevance", sa.String(40), nullable=True),
        sa.Column("original_hashes_json", sa.Text(), nullable=True),
        sa.Column("annotations", sa.String(500), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=True),
    )
    op.create_table(
        "intake_media_job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("report.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "media_item_id",
            sa.Integer(),
            sa.ForeignKey("media_item.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("spool_path", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("done_at", _tz(), nullable=True),
    )
    op.create_index("ix_intake_media_job_state", "intake_media_job", ["state", "id"])
    op.create_table(
        "intake_report_media",
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("report.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pending_files", sa.Integer(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
    )
    op.create_index("ix_intake_report_media_state", "intake_report_media", ["state"])


def downgrade() -> None:
    op.drop_index("ix_intake_report_media_state", "intake_report_media")
    op.drop_table("intake_report_media")
    op.drop_index("ix_intake_media_job_state", "intake_media_job")
    op.drop_table("intake_media_job")
    op.drop_table("intake_media_detail")
    op.drop_index("ix_intake_esp_file_report", "intake_esp_file")
    op.drop_table("intake_esp_file")
    op.drop_index("ix_intake_esp_report_state_expires", "intake_esp_report")
    op.drop_table("intake_esp_report")
    op.drop_table("intake_api_key")
    op.drop_table("intake_esp_credential")
