"""Run the Alembic migrations from code (``veille init`` / ``veille db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from veille.store.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database: Database) -> Config:
    """An Alembic configuration bound to ``database``'s engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "heads") -> str:
    """Migrate ``database`` up to ``revision`` (default: every capability's newest).

    Each capability keeps its migrations on its own Alembic branch (a branch
    label naming the capability, depending on the core revision), so that
    capabilities evolve their tables independently.
    """
    command.upgrade(alembic_config(database), revision)
    return describe(current_revisions(database))


def downgrade(database: Database, revision: str) -> str:
    """Migrate ``database`` down to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(database), revision)
    return describe(current_revisions(database))


def current_revisions(database: Database) -> frozenset[str]:
    """The revisions the database is at (one per capability branch); empty when new."""
    with database.engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def head_revisions() -> frozenset[str]:
    """The newest revision of every branch shipped with this version of Veille."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def describe(revisions: frozenset[str]) -> str:
    """Revisions as one sorted, readable string ("empty" for none)."""
    return ", ".join(sorted(revisions)) or "empty"


def applied_revisions(database: Database) -> frozenset[str]:
    """Every revision the database has, including those its heads depend on."""
    current = current_revisions(database)
    if not current:
        return frozenset()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    revisions = ScriptDirectory.from_config(config).revision_map.iterate_revisions(
        tuple(current), "base"
    )
    return frozenset(revision.revision for revision in revisions)


def is_up_to_date(database: Database) -> bool:
    """Whether ``database`` has the newest revision of every branch.

    A branch that ``depends_on`` the core revision absorbs it in Alembic's
    version table, so the heads are compared with everything applied.
    """
    return head_revisions() <= applied_revisions(database)
