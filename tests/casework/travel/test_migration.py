"""The travel branch of the migrations builds exactly the tables the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database

TRAVEL_TABLES = ("travel_watch_entry", "travel_notice", "travel_alert")


def test_travel_branch_matches_models(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if any(t in repr(d) for t in TRAVEL_TABLES)] == []
    assert "travel_0001" in migrate.current_revisions(empty_database)
