"""Migrations build the schema from nothing and can be undone."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from veille.cli import app
from veille.config import get_settings
from veille.store import migrate
from veille.store.db import Database


def test_migrations_run_up_from_an_empty_database(empty_database: Database) -> None:
    assert migrate.current_revisions(empty_database) == frozenset()
    migrate.upgrade(empty_database)
    assert migrate.is_up_to_date(empty_database)
    tables = set(inspect(empty_database.engine).get_table_names())
    assert {
        "agency",
        "report",
        "media_item",
        "identifier",
        "report_identifier",
        "report_share",
        "report_offence",
        "report_flag",
        "audit_event",
    } <= tables


def test_migrations_are_reversible(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    migrate.downgrade(empty_database, "base")
    assert migrate.current_revisions(empty_database) == frozenset()
    assert set(inspect(empty_database.engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_database)
    assert migrate.is_up_to_date(empty_database)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(empty_database: Database) -> None:
    if empty_database.dialect != "sqlite":
        return
    with empty_database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_db_current_says_at_head_or_pending(
    empty_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv(
        "VEILLE_DATABASE_URL", empty_database.engine.url.render_as_string(hide_password=False)
    )
    get_settings.cache_clear()
    pending = runner.invoke(app, ["db", "current"])
    assert pending.exit_code == 0, pending.output
    assert pending.stdout.startswith("pending: the database is at empty;")
    assert "run 'veille db upgrade'" in pending.stdout
    migrate.upgrade(empty_database)
    at_head = runner.invoke(app, ["db", "current"])
    assert at_head.stdout.startswith("at head: ")
    assert "no migration pending" in at_head.stdout and "newest" not in at_head.stdout
