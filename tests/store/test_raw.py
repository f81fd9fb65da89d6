"""Plans: the same statements run through a SQLAlchemy connection and on asynchronous ones."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.store.raw import AsyncPgPool, PgStatement, Plan, compute, run_plan
from veille.store.types import utcnow
from veille.web import create_app

ADD_ONE = PgStatement.of(text("SELECT CAST(:x AS integer) + 1 AS y"))
DOUBLE = PgStatement.of(text("SELECT CAST(:y AS integer) * 2 AS z"))
DIVIDE_BY_ZERO = PgStatement.of(text("SELECT 1 / CAST(:zero AS integer) AS never"))
AUDIT = PgStatement.of(
    text(
        "INSERT INTO audit_event (actor, action, object_type, object_id, at, success) "
        "VALUES (:actor, 'test.plan', 'test', '1', :at, true)"
    )
)


def _postgresql(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("plans run on PostgreSQL only")


def two_steps(x: int) -> Plan[int]:
    (first,) = yield ADD_ONE, {"x": x}
    (second,) = yield DOUBLE, {"y": first.y}
    return int(second.z)


def offloading(offload: bool) -> Plan[tuple[int, str]]:
    """Python work between two statements, in a worker thread when ``offload``."""
    (first,) = yield ADD_ONE, {"x": 1}
    name = yield from compute(lambda: threading.current_thread().name, offload=offload)
    (second,) = yield DOUBLE, {"y": first.y}
    return int(second.z), name


def catching() -> Plan[str]:
    try:
        yield DIVIDE_BY_ZERO, {"zero": 0}
    except psycopg.errors.DivisionByZero:
        return "caught where it was sent"
    return "not raised"


def audit_then_fail(actor: str) -> Plan[None]:
    yield AUDIT, {"actor": actor, "at": utcnow()}
    raise ValueError("the plan gives up after its first statement")


def _audited(database: Database, actor: str) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).where(AuditEvent.actor == actor)) or 0


def test_a_plan_gives_the_same_answer_in_a_thread_and_on_the_event_loop(
    database: Database,
) -> None:
    _postgresql(database)
    with database.autocommit.connect() as connection:
        in_thread = run_plan(two_steps(20), connection)
        caught_in_thread = run_plan(catching(), connection)

    async def on_the_loop() -> tuple[int, str]:
        pool = AsyncPgPool(database.engine, min_size=1, max_size=2)
        await pool.open()
        try:
            return await pool.run(two_steps(20)), await pool.run(catching())
        finally:
            await pool.close()

    assert in_thread == 42
    assert caught_in_thread == "caught where it was sent"
    assert asyncio.run(on_the_loop()) == (42, "caught where it was sent")


def test_a_plan_in_a_transaction_leaves_nothing_when_it_fails(database: Database) -> None:
    _postgresql(database)

    async def run(actor: str, transaction: bool) -> None:
        pool = AsyncPgPool(database.engine, min_size=1, max_size=1)
        await pool.open()
        try:
            with pytest.raises(ValueError, match="gives up"):
                await pool.run(audit_then_fail(actor), transaction=transaction)
            # The connection went back to the pool usable.
            assert await pool.run(two_steps(1)) == 4
        finally:
            await pool.close()

    asyncio.run(run("plan-in-transaction", transaction=True))
    asyncio.run(run("plan-in-autocommit", transaction=False))
    assert _audited(database, "plan-in-transaction") == 0
    assert _audited(database, "plan-in-autocommit") == 1


def test_the_pool_refuses_sqlite(tmp_path: Any) -> None:
    from veille.store.db import create_veille_engine

    with pytest.raises(ValueError, match="needs PostgreSQL"):
        AsyncPgPool(create_veille_engine(f"sqlite:///{tmp_path / 'x.db'}"))


def test_the_web_server_holds_asynchronous_connections_on_postgresql_while_served(
    database: Database, tmp_path: Any
) -> None:
    app = create_app(database, IntakeSettings(spool_dir=tmp_path, worker_enabled=False))
    state = app.state.veille
    with TestClient(app):
        assert (state.pg is not None) == (database.dialect == "postgresql")
    assert state.pg is None


def test_offloaded_work_runs_in_a_worker_thread_on_the_event_loop_only(
    database: Database,
) -> None:
    _postgresql(database)
    with database.autocommit.connect() as connection:
        assert run_plan(offloading(True), connection) == (4, threading.current_thread().name)

    async def on_the_loop() -> tuple[tuple[int, str], tuple[int, str]]:
        pool = AsyncPgPool(database.engine, min_size=1, max_size=1)
        await pool.open()
        try:
            return await pool.run(offloading(False)), await pool.run(offloading(True))
        finally:
            await pool.close()

    (inline, inline_thread), (offloaded, offloaded_thread) = asyncio.run(on_the_loop())
    assert (inline, offloaded) == (4, 4)
    assert inline_thread == threading.current_thread().name  # the loop's own thread
    assert offloaded_thread != inline_thread
