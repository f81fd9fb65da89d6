"""The media branch migrates up and down and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database

MEDIA_TABLES = {
    "hash_list", "known_item", "media_match", "content_cluster", "media_classification",
    "reported_hash",
}  # fmt: skip


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


def test_media_0002_fills_cluster_members_from_their_reports(empty_database: Database) -> None:
    from sqlalchemy import text

    from tests.media.conftest import add_report

    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "media_0001")
    report_id = add_report(
        empty_database, 1, [{"pdq": "ab" * 32, "pdq_quality": 90, "sha256": "cd" * 32}]
    )
    with empty_database.engine.begin() as connection:
        media_id = connection.execute(text("SELECT id FROM media_item")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO media_classification (media_item_id, classification, cluster_id,"
                " matched_at) VALUES (:m, 'new', :m, '2026-03-01 10:00:00')"
            ),
            {"m": media_id},
        )
    migrate.upgrade(empty_database)
    with empty_database.engine.connect() as connection:
        member = connection.execute(
            text("SELECT report_id, sharer, country, received_at FROM media_classification")
        ).one()
        values = connection.execute(
            text("SELECT signal_type, value, media_item_id FROM reported_hash ORDER BY 1")
        ).all()
    assert (member[0], member[1], member[2]) == (report_id, f"hotline-a|report:{report_id}", "FR")
    assert member[3] is not None
    assert [tuple(v) for v in values] == [
        ("pdq", "ab" * 32, media_id),
        ("sha256", "cd" * 32, media_id),
    ]
