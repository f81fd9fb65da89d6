"""Id lists as one array on PostgreSQL, and planner statistics kept up with bulk runs."""

from __future__ import annotations

import pytest
from sqlalchemy import TextClause, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from tests.conftest import EngineFactory
from veille.store.db import Database, PlannerStatistics, create_veille_engine
from veille.store.models import AuditEvent
from veille.store.sql import advisory_key, among
from veille.store.types import utcnow


def _events(database: Database, count: int) -> list[int]:
    with database.session() as session:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "actor": "test",
                    "action": "test.among",
                    "object_type": "test",
                    "object_id": str(n),
                    "at": utcnow(),
                    "success": True,
                }
                for n in range(count)
            ],
        )
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_among_selects_exactly_the_listed_rows_on_both_engines(database: Database) -> None:
    ids = _events(database, 2_500)
    wanted = [*ids[::3], 10**9]  # the last names nothing
    with database.session() as session:
        found = set(session.scalars(select(AuditEvent.id).where(among(AuditEvent.id, wanted))))
        assert found == set(ids[::3])
        assert list(session.scalars(select(AuditEvent.id).where(among(AuditEvent.id, [])))) == []
        # Strings too, and inside a DELETE.
        names = {str(n) for n in range(0, 2_500, 7)}
        matched = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(among(AuditEvent.object_id, sorted(names)))
        )
        assert matched == len(names)
        session.execute(delete(AuditEvent).where(among(AuditEvent.id, ids[:100])))
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 2_400


def test_among_is_one_array_parameter_on_postgresql_and_a_list_on_sqlite() -> None:
    statement = select(AuditEvent.id).where(among(AuditEvent.id, list(range(900))))
    on_postgresql = statement.compile(dialect=postgresql.dialect())
    assert "= ANY(" in str(on_postgresql) and len(on_postgresql.params) == 1
    on_sqlite = str(statement.compile(dialect=sqlite.dialect()))
    assert " IN (" in on_sqlite and "= 1" not in on_sqlite


class _Recorder:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, statement: TextClause, /) -> object:
        self.statements.append(str(statement))
        return None


def test_statistics_are_refreshed_a_logarithmic_number_of_times() -> None:
    ran: list[int] = []
    keeper = PlannerStatistics("postgresql", first=1_000)
    recorder = _Recorder()
    for _ in range(1_000):
        if keeper.advance(1_000, recorder):
            ran.append(keeper.done)
            assert keeper.next == keeper.done * 2
    # 1M rows in batches of 1,000: at 1k, 2k, 4k, ... 512k.
    assert ran == [1_000 * 2**k for k in range(10)]
    assert recorder.statements == ["ANALYZE"] * 10
    quiet = PlannerStatistics("sqlite", first=1)
    assert not quiet.advance(10**6, recorder) and len(recorder.statements) == 10


def test_analyze_runs_on_postgresql_inside_a_transaction(database: Database) -> None:
    if database.dialect != "postgresql":
        return
    _events(database, 50)
    with database.session() as session:
        keeper = PlannerStatistics(database.dialect, first=10)
        assert keeper.advance(50, session)
        live = session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'audit_event'::regclass")
        )
        assert live is not None and live >= 50


def test_advisory_locks_of_two_schemas_do_not_meet(
    engine_factories: dict[str, EngineFactory],
) -> None:
    factory = engine_factories["postgresql"]
    if not factory.available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    first = create_veille_engine(factory.new_url())
    second = create_veille_engine(factory.new_url())
    try:
        with first.connect() as holder, second.connect() as other, first.connect() as same:
            holder.execute(select(func.pg_advisory_lock(advisory_key("test-lock"))))
            # Another schema takes the lock of the same name at once…
            assert other.scalar(select(func.pg_try_advisory_lock(advisory_key("test-lock"))))
            # …while another connection to the first schema cannot.
            assert not same.scalar(select(func.pg_try_advisory_lock(advisory_key("test-lock"))))
            holder.execute(select(func.pg_advisory_unlock(advisory_key("test-lock"))))
            assert same.scalar(select(func.pg_try_advisory_lock(advisory_key("test-lock"))))
            same.execute(select(func.pg_advisory_unlock(advisory_key("test-lock"))))
            other.execute(select(func.pg_advisory_unlock(advisory_key("test-lock"))))
    finally:
        first.dispose()
        second.dispose()
