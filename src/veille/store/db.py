"""Engines and sessions for SQLite (WAL, foreign keys on) and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while an import writes; foreign keys are off by
    # default in SQLite and must be switched on for every connection.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 64 MiB of page cache per connection: bulk imports touch many index pages.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


def normalise_database_url(url: str) -> str:
    """``url`` with the driver Veille installs for PostgreSQL.

    Hosting services hand out ``postgres://`` (a name SQLAlchemy does not
    know) and ``postgresql://`` means psycopg2 to SQLAlchemy, which Veille
    does not install; both mean psycopg 3 here.
    """
    scheme, separator, rest = url.partition("://")
    if separator and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


def hide_password(url: str) -> str:
    """``url`` as it may be shown to a person: any password replaced by ``***``."""
    try:
        return make_url(normalise_database_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//[^@/]*@", "//***@", url)


def create_veille_engine(url: str, *, prepare: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``, with the SQLite pragmas Veille relies on.

    ``prepare`` (PostgreSQL) lets psycopg prepare a statement on the server
    after its fifth run, which spares PostgreSQL parsing and planning it
    again: right for a server that runs the same few short statements all
    day, wrong for bulk work (see below).
    """
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ArgumentError(f"{parsed.get_backend_name()!r}: Veille runs on SQLite or PostgreSQL")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # psycopg prepares a statement on the server after five runs and may keep
        # a generic plan made while a table was still empty (a sequential scan);
        # bulk imports then slow down as the table grows. Plan every query anew.
        # A server's statements are point lookups and inserts by key, whose plan
        # does not change with the size of a table, and autovacuum's ANALYZE
        # makes PostgreSQL plan prepared statements again as tables grow.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("prepare_threshold", 5 if prepare else None)
        kwargs["connect_args"] = connect_args
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@dataclass
class Database:
    """One database: its engine and a session factory."""

    engine: Engine

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit: Engine | None = None

    @property
    def autocommit(self) -> Engine:
        """The same engine and pool, each statement committed on its own.

        For calls that are one statement: PostgreSQL runs it in a transaction
        of its own, which spares the ``BEGIN`` and ``COMMIT`` round trips.
        """
        if self._autocommit is None:
            self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


ANALYZE_FIRST = 5_000
"""Rows a bulk run writes before PostgreSQL's statistics are first refreshed."""


class Executes(Protocol):
    """A session or connection: what runs one statement."""

    def execute(self, statement: TextClause, /) -> object: ...


class PlannerStatistics:
    """Keeps PostgreSQL's planner statistics up with a bulk run (import, linking, scoring).

    The planner picks its joins from table statistics that autovacuum
    refreshes only now and then. A run that writes a million rows in one go
    would otherwise be planned for the tables as they were at its start (a
    few thousand rows): hash joins over whole tables for each batch, so the
    run slows as it grows. ``ANALYZE`` (a sample, about a second on a large
    database) runs once ``ANALYZE_FIRST`` rows are written and again each
    time the count doubles: a logarithmic number of times per run. SQLite
    needs nothing here.
    """

    def __init__(self, dialect: str, first: int = ANALYZE_FIRST) -> None:
        self.enabled = dialect == "postgresql"
        self.done = 0
        self.next = first

    def advance(self, count: int, on: Executes) -> bool:
        """Count ``count`` more rows; run ``ANALYZE`` ``on`` the run's connection when due."""
        if not self.enabled:
            return False
        self.done += count
        if self.done < self.next:
            return False
        on.execute(text("ANALYZE"))
        self.next = self.done * 2
        return True


def open_database(url: str | None = None) -> Database:
    """Open the configured database (or ``url``); does not migrate it."""
    if url is not None:
        return Database(create_veille_engine(url))
    from veille.config import SettingError, get_settings

    settings = get_settings()
    if not settings.database_url:
        settings.ensure_data_dir()
    url = settings.resolved_database_url()
    try:
        return Database(create_veille_engine(url))
    except OSError as error:
        raise SettingError(
            "VEILLE_DATABASE_URL",
            f"cannot create the folder of {hide_password(url)!r}: {error.strerror or error}",
        ) from error
