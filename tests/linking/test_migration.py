"""The linking branch matches the models, and linking_0002 gives old clusters opaque ids."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from tests.linking.helpers import make_world
from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database

LINKING_TABLES = (
    "case_cluster",
    "report_cluster",
    "report_link",
    "link_candidate",
    "deconfliction_alert",
)


def test_linking_branch_matches_models(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if any(t in repr(d) for t in LINKING_TABLES)] == []


def test_existing_clusters_get_public_ids_and_withheld_alerts_go(
    empty_database: Database,
) -> None:
    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "linking_0001")
    agencies = make_world(empty_database)
    now = "2020-01-01 00:00:00+00:00"
    with empty_database.engine.begin() as connection:
        for cluster_id in (7, 12):
            connection.execute(
                text(
                    "INSERT INTO case_cluster (id, size, agency_count, country_count, created_at,"
                    " updated_at) VALUES (:id, 2, 2, 1, :now, :now)"
                ),
                {"id": cluster_id, "now": now},
            )
        for other, disclosed in ((agencies["Police DE"], True), (agencies["Hotline FR"], False)):
            connection.execute(
                text(
                    "INSERT INTO deconfliction_alert (cluster_id, agency_id, other_agency_id,"
                    " other_disclosed, created_at) VALUES (7, :agency, :other, :disclosed, :now)"
                ),
                {
                    "agency": agencies["Police FR"],
                    "other": other,
                    "disclosed": disclosed,
                    "now": now,
                },
            )
    migrate.upgrade(empty_database)
    with empty_database.engine.connect() as connection:
        ids = connection.execute(text("SELECT public_id FROM case_cluster")).scalars().all()
        alerts = connection.execute(text("SELECT other_agency_id FROM deconfliction_alert")).all()
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"cc-[0-9a-f]{16}", public_id) for public_id in ids)
    assert [row[0] for row in alerts] == [agencies["Police DE"]]
