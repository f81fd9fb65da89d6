"""Media: hash lists, known items, matches, content clusters, classifications.

Revision ID: media_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "media_0001"
down_revision = None
branch_labels = ("media",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "hash_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("licence", sa.String(length=200), nullable=True),
        sa.Column("marking", sa.String(length=32), nullable=False),
        sa.Column("category_scheme", sa.String(length=100), nullable=True),
        sa.Column("list_format", sa.String(length=16), nullable=False),
        sa.Column("threshold_bits", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "threshold_bits >= 0 AND threshold_bits <= 47", name="ck_hash_list_threshold"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "known_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=80), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("series", sa.String(length=200), nullable=True),
        sa.Column("victim_identified", sa.Boolean(), nullable=True),
        sa.Column("offender_identified", sa.Boolean(), nullable=True),
        sa.Column("is_distributed", sa.Boolean(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tombstoned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["list_id"], ["hash_list.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("list_id", "item_key", name="uq_known_item_list_key"),
    )
    op.create_index("ix_known_item_md5", "known_item", ["md5"])
    op.create_index("ix_known_item_sha1", "known_item", ["sha1"])
    op.create_index("ix_known_item_sha256", "known_item", ["sha256"])
    op.create_index("ix_known_item_pdq", "known_item", ["pdq"])
    op.create_table(
        "media_match",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("known_item_id", sa.Integer(), nullable=True),
        sa.Column("other_media_item_id", sa.Integer(), nullable=True),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("distance_bits", sa.Integer(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(known_item_id IS NULL) <> (other_media_item_id IS NULL)",
            name="ck_media_match_one_target",
        ),
        sa.ForeignKeyConstraint(["known_item_id"], ["known_item.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_item.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["other_media_item_id"], ["media_item.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_media_match_media", "media_match", ["media_item_id"])
    op.create_index("ix_media_match_known", "media_match", ["known_item_id"])
    op.create_index("ix_media_match_other", "media_match", ["other_media_item_id"])
    op.create_table(
        "content_cluster",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("media_count", sa.Integer(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("reporter_count", sa.Integer(), nullable=False),
        sa.Column("country_count", sa.Integer(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("viral", sa.Boolean(), nullable=False),
        sa.Column("peak_reporters_in_window", sa.Integer(), nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "media_classification",
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "classification IN ('known', 'new_version', 'new')",
            name="ck_media_classification_value",
        ),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_item.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_item_id"),
    )
    op.create_index("ix_media_classification_cluster", "media_classification", ["cluster_id"])


def downgrade() -> None:
    op.drop_index("ix_media_classification_cluster", table_name="media_classification")
    op.drop_table("media_classification")
    op.drop_table("content_cluster")
    op.drop_index("ix_media_match_other", table_name="media_match")
    op.drop_index("ix_media_match_known", table_name="media_match")
    op.drop_index("ix_media_match_media", table_name="media_match")
    op.drop_table("media_match")
    op.drop_index("ix_known_item_pdq", table_name="known_item")
    op.drop_index("ix_known_item_sha256", table_name="known_item")
    op.drop_index("ix_known_item_sha1", table_name="known_item")
    op.drop_index("ix_known_item_md5", table_name="known_item")
    op.drop_table("known_item")
    op.drop_table("hash_list")
