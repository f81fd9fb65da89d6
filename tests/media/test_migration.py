"""The media branch migrates up and down and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database

MEDIA_TABLES = {"hash_list", "known_item", "media_match", "content_cluster", "media_classification"}


def test_media_branch_up_down_and_matches_models(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    assert set(inspect(empty_database.engine).get_table_names()) >= MEDIA_TABLES
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    media_differences = [d for d in differences if any(name in repr(d) for name in MEDIA_TABLES)]
    assert media_differences == []
    migrate.downgrade(empty_database, "media@base")
    assert not MEDIA_TABLES & set(inspect(empty_database.engine).get_table_names())
    assert "media_item" in inspect(empty_database.engine).get_table_names()
    migrate.upgrade(empty_database)
    assert set(inspect(empty_database.engine).get_table_names()) >= MEDIA_TABLES
