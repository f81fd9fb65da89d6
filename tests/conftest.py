"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

``database`` is parametrised over both engines. Each engine is migrated once
per test session (PostgreSQL in a schema of its own, dropped at the end) and
every table is emptied after each test. Set ``VEILLE_TEST_POSTGRES_URL`` to
use another server; set ``VEILLE_REQUIRE_POSTGRES=1`` (CI does) to fail
instead of skipping when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from veille.config import get_settings
from veille.core.jobs import jobs_file_of
from veille.flow import forget_job_systems
from veille.store import migrate
from veille.store.db import Database, create_veille_engine


def pytest_configure(config: pytest.Config) -> None:
    """Every process of the run (pytest-xdist's workers too) prints tables 200 columns wide.

    Rich fixes a console's width when the console is made, at import: xdist
    sets ``COLUMNS`` to the terminal's width in its workers before they
    import the tests, so it is set here first.
    """
    os.environ["COLUMNS"] = "200"


SHARED_TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
POSTGRES_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


def _postgres_base_url() -> str | None:
    configured = os.environ.get("VEILLE_TEST_POSTGRES_URL")
    candidates = (configured,) if configured else POSTGRES_CANDIDATES
    for url in candidates:
        try:
            engine = create_engine(url)
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            return url
        except OperationalError:
            continue
    return None


class EngineFactory:
    """Creates empty databases of one engine kind and cleans them up."""

    def __init__(self, kind: str, tmp_root: Path) -> None:
        self.kind = kind
        self.tmp_root = tmp_root
        self.base_url: str | None = None
        self.schemas: list[str] = []
        if kind == "postgresql":
            self.base_url = _postgres_base_url()

    def available(self) -> bool:
        return self.kind == "sqlite" or self.base_url is not None

    def new_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_root / f'veille-{uuid.uuid4().hex[:8]}.db'}"
        assert self.base_url is not None
        schema = f"veille_t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.base_url)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        self.schemas.append(schema)
        return f"{self.base_url}?options=-csearch_path%3D{schema}"

    def cleanup(self) -> None:
        if self.base_url is None or not self.schemas:
            return
        engine = create_engine(self.base_url)
        with engine.begin() as connection:
            for schema in self.schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def engine_factories(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, EngineFactory]]:
    root = tmp_path_factory.mktemp("databases")
    factories = {kind: EngineFactory(kind, root) for kind in ("sqlite", "postgresql")}
    yield factories
    for factory in factories.values():
        factory.cleanup()


def _require(factory: EngineFactory) -> None:
    if factory.available():
        return
    message = "PostgreSQL is not reachable at 127.0.0.1:5432"
    if os.environ.get("VEILLE_REQUIRE_POSTGRES"):
        pytest.fail(message + " and VEILLE_REQUIRE_POSTGRES is set")
    pytest.skip(message)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_database(
    request: pytest.FixtureRequest, engine_factories: dict[str, EngineFactory]
) -> Iterator[Database]:
    """One migrated database per engine kind, shared by the whole session."""
    factory = engine_factories[request.param]
    _require(factory)
    database = Database(create_veille_engine(factory.new_url()))
    migrate.upgrade(database)
    yield database
    database.dispose()


def empty_all_tables(database: Database) -> None:
    """Delete every row of every table (the job system's too) and restart id sequences.

    Plain DELETEs with foreign-key triggers off: on tables that hold a few
    rows this is far cheaper than TRUNCATE, which rewrites every table. The
    tables are listed each time: the job system creates its own on first use,
    and a sequence restarted under rows left in its table collides later.
    """
    tables = [
        name for name in inspect(database.engine).get_table_names() if name != "alembic_version"
    ]
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for name in tables:
                connection.execute(text(f'DELETE FROM "{name}"'))
            connection.execute(
                text(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
                )
            )
            return
        connection.execute(text("PRAGMA foreign_keys=OFF"))
        for name in tables:
            connection.execute(text(f'DELETE FROM "{name}"'))
        connection.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture
def database(migrated_database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A migrated, empty database on SQLite and on PostgreSQL; the CLI is pointed at it."""
    monkeypatch.setenv(
        "VEILLE_DATABASE_URL", migrated_database.engine.url.render_as_string(hide_password=False)
    )
    get_settings.cache_clear()
    yield migrated_database
    # Job systems the test opened (the CLI opens its own database) hold file locks.
    forget_job_systems()
    empty_all_tables(migrated_database)
    if migrated_database.dialect == "sqlite":
        # SQLite's job queue is a file beside the database, not one of its tables:
        # tasks a test left queued would otherwise run in whichever test comes next.
        jobs = jobs_file_of(migrated_database)
        for leftover in jobs.parent.glob(f"{jobs.stem}*"):
            leftover.unlink(missing_ok=True)
    get_settings.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(
    request: pytest.FixtureRequest, engine_factories: dict[str, EngineFactory]
) -> Iterator[Database]:
    """A brand-new database with no tables, for migration tests."""
    factory = engine_factories[request.param]
    _require(factory)
    database = Database(create_veille_engine(factory.new_url()))
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's own Veille settings or data folder."""
    for name in list(os.environ):
        if name.startswith("VEILLE_") and name not in (
            "VEILLE_REQUIRE_POSTGRES",
            "VEILLE_TEST_POSTGRES_URL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VEILLE_DATA_DIR", str(tmp_path / "veille-data"))
    monkeypatch.setenv("VEILLE_USER", "test-analyst")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def pdq_reference_dir() -> Path:
    """The shared PDQ reference images; tests using it skip when it is absent."""
    folder = SHARED_TESTDATA / "pdq-reference"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder
