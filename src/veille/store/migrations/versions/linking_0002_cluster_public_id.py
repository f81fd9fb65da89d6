"""Linking: opaque public cluster ids; withheld ("restricted") alerts are dropped.

A cluster's internal id is the id of one of its reports, so showing it told
readers the id of a report they may not see. Existing clusters get a random
``public_id``; the alerts that said "another agency holds restricted
(TLP:RED) reports" are deleted, since a red report now raises no alert at all.
After upgrading, run ``veille link --rebuild`` then ``veille triage score
--all`` so that clusters and stored scores follow the marking rules.

Revision ID: linking_0002
Revises: linking_0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "linking_0002"
down_revision = "linking_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_cluster") as batch:
        batch.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    connection = op.get_bind()
    cluster = sa.table("case_cluster", sa.column("id", sa.Integer), sa.column("public_id"))
    ids = list(connection.scalars(sa.select(cluster.c.id)))
    if ids:
        connection.execute(
            sa.update(cluster)
            .where(cluster.c.id == sa.bindparam("cluster_id"))
            .values(public_id=sa.bindparam("token")),
            [{"cluster_id": i, "token": "cc-" + secrets.token_hex(8)} for i in ids],
        )
    with op.batch_alter_table("case_cluster") as batch:
        batch.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint("uq_case_cluster_public_id", ["public_id"])
    alert = sa.table("deconfliction_alert", sa.column("other_disclosed", sa.Boolean))
    connection.execute(sa.delete(alert).where(alert.c.other_disclosed.is_(False)))


def downgrade() -> None:
    with op.batch_alter_table("case_cluster") as batch:
        batch.drop_constraint("uq_case_cluster_public_id", type_="unique")
        batch.drop_column("public_id")
