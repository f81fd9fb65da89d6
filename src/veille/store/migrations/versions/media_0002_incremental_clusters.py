"""Media: content clusters kept up to date by what joins them.

Adds ``reported_hash`` (one row per distinct PDQ or SHA-256 value among
reported media) and, on ``media_classification``, what a cluster's counts are
made of (report, sharer, country, time), filled here from the reports. The
PDQ rows use the default quality floor (50); with another
``VEILLE_PDQ_QUALITY_FLOOR``, run ``veille match --all`` after
upgrading.

Revision ID: media_0002
Revises: media_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "media_0002"
down_revision = "media_0001"
branch_labels = None
depends_on = None

_MEMBER_INDEXES = {
    "ix_media_classification_cluster_report": ["cluster_id", "report_id"],
    "ix_media_classification_cluster_sharer": ["cluster_id", "sharer"],
    "ix_media_classification_cluster_country": ["cluster_id", "country"],
    "ix_media_classification_cluster_time": ["cluster_id", "received_at"],
}

_FILL_MEMBERS = [
    """UPDATE media_classification SET report_id = (
        SELECT mi.report_id FROM media_item mi WHERE mi.id = media_classification.media_item_id)""",
    """UPDATE media_classification SET
        country = (SELECT r.derived_country FROM report r
                   WHERE r.id = media_classification.report_id),
        received_at = (SELECT r.received_at FROM report r
                       WHERE r.id = media_classification.report_id),
        sharer = (SELECT r.source || '|' || coalesce(
                      'identifier:' || (SELECT min(ri.identifier_id) FROM report_identifier ri
                                        WHERE ri.report_id = r.id),
                      'report:' || r.id)
                  FROM report r WHERE r.id = media_classification.report_id)""",
    """INSERT INTO reported_hash (signal_type, value, media_item_id)
        SELECT 'pdq', mi.pdq, min(mi.id) FROM media_item mi
        JOIN media_classification mc ON mc.media_item_id = mi.id
        WHERE mi.pdq IS NOT NULL AND mi.pdq_quality >= 50 GROUP BY mi.pdq""",
    """INSERT INTO reported_hash (signal_type, value, media_item_id)
        SELECT 'sha256', mi.sha256, min(mi.id) FROM media_item mi
        JOIN media_classification mc ON mc.media_item_id = mi.id
        WHERE mi.sha256 IS NOT NULL GROUP BY mi.sha256""",
]


def upgrade() -> None:
    op.create_table(
        "reported_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("media_item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["media_item_id"], ["media_item.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("signal_type", "value", name="uq_reported_hash_value"),
    )
    with op.batch_alter_table("media_classification") as batch:
        batch.add_column(sa.Column("report_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sharer", sa.String(length=240), nullable=True))
        batch.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_index("ix_media_classification_cluster")
        for name, columns in _MEMBER_INDEXES.items():
            batch.create_index(name, columns)
    for statement in _FILL_MEMBERS:
        op.execute(statement)
    with op.batch_alter_table("media_classification") as batch:
        batch.alter_column("report_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("sharer", existing_type=sa.String(length=240), nullable=False)
        batch.alter_column("received_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("media_classification") as batch:
        for name in _MEMBER_INDEXES:
            batch.drop_index(name)
        batch.create_index("ix_media_classification_cluster", ["cluster_id"])
        batch.drop_column("received_at")
        batch.drop_column("country")
        batch.drop_column("sharer")
        batch.drop_column("report_id")
    op.drop_table("reported_hash")
