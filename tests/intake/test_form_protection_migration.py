"""Migration ``intake_0002`` adds the shared form-protection tables, matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database

TABLES = {"intake_server_secret", "intake_rate_limit"}


def test_intake_0002_up_down_and_matches_models(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    assert set(inspect(empty_database.engine).get_table_names()) >= TABLES
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if any(name in repr(d) for name in TABLES)] == []
    migrate.downgrade(empty_database, "intake_0001")
    tables = set(inspect(empty_database.engine).get_table_names())
    assert not TABLES & tables
    assert "intake_esp_report" in tables
    migrate.upgrade(empty_database)
    assert migrate.is_up_to_date(empty_database)
    assert set(inspect(empty_database.engine).get_table_names()) >= TABLES
