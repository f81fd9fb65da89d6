"""Id lists as one array on PostgreSQL, and planner statistics kept up with bulk runs."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from veille.store.db import Database, PlannerStatistics
from veille.store.models import AuditEvent
from veille.store.sql import among
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


def test_statistics_are_refreshed_a_logarithmic_number_of_times() -> None:
    ran: list[int] = []
    keeper = PlannerStatistics("postgresql", first=1_000)
    for _ in range(1_000):
        if keeper.advance(1_000, lambda sql: ran.append(keeper.done)):
            assert keeper.next == keeper.done * 2
    # 1M rows in batches of 1,000: at 1k, 2k, 4k, ... 512k.
    assert ran == [1_000 * 2**k for k in range(10)]
    quiet = PlannerStatistics("sqlite", first=1)
    assert not quiet.advance(10**6, lambda sql: ran.append(-1)) and ran[-1] != -1


def test_analyze_runs_on_postgresql_inside_a_transaction(database: Database) -> None:
    if database.dialect != "postgresql":
        return
    _events(database, 50)
    with database.session() as session:
        keeper = PlannerStatistics(database.dialect, first=10)
        assert keeper.advance(50, lambda sql: session.execute(text(sql)))
        live = session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'audit_event'::regclass")
        )
        assert live is not None and live >= 50
