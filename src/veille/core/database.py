"""Opening the configured database, ready for work."""

from __future__ import annotations

from veille.output import fail
from veille.store import migrate
from veille.store.db import Database, open_database


def ready_database() -> Database:
    """The configured database, refusing to run on an un-migrated schema (exit code 2)."""
    database = open_database()
    if not migrate.is_up_to_date(database):
        current = migrate.current_revisions(database)
        state = "empty" if not current else f"at revision {migrate.describe(current)}"
        fail(f"the database is {state}; run 'veille init' (or 'veille db upgrade') first", 2)
    return database
