"""Running a prepared Core statement straight through psycopg, for the hottest paths.

SQLAlchemy's ``Connection.execute`` costs about 100 µs of Python per
statement (cache lookup, parameter processing, result set-up) on top of
psycopg's own work; the ESP API runs a dozen statements per report, so on
PostgreSQL its statements are compiled once by SQLAlchemy and then sent by
psycopg directly, on the connection (and in the transaction) of a
SQLAlchemy ``Connection``. Parameters go to psycopg as given: only plain
values (str, int, aware datetimes, lists, ``StrEnum`` members) belong here,
since SQLAlchemy's type processors do not run.

A call made of several such statements is written once, as a *plan*: a
generator that yields ``(statement, parameters)`` steps and receives each
step's rows (and, for Python work too large to run on the event loop,
:class:`Offload` steps; see :func:`compute`). :func:`run_plan` runs a plan
on a SQLAlchemy connection, in a thread; :class:`AsyncPgPool` runs the
same plan on psycopg's asynchronous connections, on the web server's
event loop, which spares each request the trip to a worker thread and the
contention between threads for Python's lock: about 60 µs of CPU per
statement in a micro-benchmark, and in the server under load about 2 ms of
CPU per complete ESP report (six calls; 6.3 ms before, 4.3–4.6 ms after,
``bench/results/intake.md``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from psycopg import AsyncConnection, OperationalError
from psycopg.rows import namedtuple_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Connection, Engine, String, bindparam, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = postgresql.psycopg.dialect()
T = TypeVar("T")


@dataclass(frozen=True)
class PgStatement:
    """A statement's SQL for psycopg and the values of its constant parameters."""

    sql: str
    constants: Mapping[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement) -> PgStatement:
        """Compile ``statement`` for psycopg (do it once, at import or in a cache)."""
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        # The values of parameters SQLAlchemy made for constants (``state == "open"``);
        # the others are left for the caller.
        given = compiled.construct_params(_check=False) or {}
        constants = {name: value for name, value in given.items() if value is not None}
        return cls(str(compiled), constants)

    def run(self, connection: Connection, parameters: Mapping[str, Any]) -> list[Any]:
        """Execute on ``connection``'s psycopg connection; returns the rows (named tuples)."""
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(self.sql, {**self.constants, **parameters})
            return cursor.fetchall() if cursor.description is not None else []

    async def run_async(
        self, connection: AsyncConnection[Any], parameters: Mapping[str, Any]
    ) -> list[Any]:
        """:meth:`run` on an asynchronous psycopg connection."""
        async with connection.cursor(row_factory=namedtuple_row) as cursor:
            await cursor.execute(self.sql, {**self.constants, **parameters})
            return await cursor.fetchall() if cursor.description is not None else []


@dataclass(frozen=True)
class Offload:
    """A step of a plan that is Python work, not a statement (see :func:`compute`)."""

    function: Callable[[], Any]


Step = tuple[PgStatement, Mapping[str, Any]] | Offload
# A plan yields the statements of a call and receives their rows (or an Offload's result);
# it returns the call's answer.
Plan = Generator[Step, Any, T]

# Python work on more bytes than this (parsing a document, validating a report) goes to a
# worker thread on the event loop: a 5 MiB document takes most of a second to parse, and the
# loop would answer no other request meanwhile.
INLINE_BYTES = 64 * 1024


def compute(function: Callable[[], T], *, offload: bool) -> Plan[T]:
    """``function()`` inside a plan: in place, or, when ``offload``, in a worker thread
    where the plan runs on the event loop (:func:`run_plan` calls it in place either way)."""
    if not offload:
        return function()
    return cast(T, (yield Offload(function)))


def run_plan(plan: Plan[T], connection: Connection) -> T:
    """Run ``plan`` on a SQLAlchemy connection (in its transaction, if it has one).

    An error raised by a step is thrown into the plan at that step, so a
    plan can translate it, or clean up, where it stands. In a transaction a
    failed statement aborts it: later statements of the plan then fail too,
    and the transaction is rolled back.
    """
    try:
        step = next(plan)
        while True:
            try:
                if isinstance(step, Offload):
                    result = step.function()
                else:
                    result = step[0].run(connection, step[1])
            except BaseException as error:
                step = plan.throw(error)
            else:
                step = plan.send(result)
    except StopIteration as done:
        return cast(T, done.value)


async def run_plan_async(plan: Plan[T], connection: AsyncConnection[Any]) -> T:
    """:func:`run_plan` on an asynchronous psycopg connection; :class:`Offload` steps run
    in a worker thread."""
    try:
        step = next(plan)
        while True:
            try:
                if isinstance(step, Offload):
                    result = await asyncio.to_thread(step.function)
                else:
                    result = await step[0].run_async(connection, step[1])
            except BaseException as error:
                step = plan.throw(error)
            else:
                step = plan.send(result)
    except StopIteration as done:
        return cast(T, done.value)


class AsyncPgPool:
    """Asynchronous psycopg connections to an engine's PostgreSQL database, for plans.

    The connections are opened with what the engine's URL says (host,
    database, user, search path, application name) and its dialect's type
    adapters, but not the engine's own ``connect_args``; in autocommit
    mode; and psycopg prepares a statement after its fifth run, as on the
    server's engine (:func:`veille.store.db.create_veille_engine`).
    """

    def __init__(self, engine: Engine, *, min_size: int = 2, max_size: int = 16) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"AsyncPgPool needs PostgreSQL, not {engine.dialect.name}")
        _, arguments = engine.dialect.create_connect_args(engine.url)
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            kwargs={**arguments, "autocommit": True, "prepare_threshold": 5},
            min_size=min_size,
            max_size=max_size,
            open=False,
            name="veille-esp",
        )

    async def open(self) -> None:
        """Open the pool's first connections (raises if the database cannot be reached)."""
        await self._pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    async def run(self, plan: Plan[T], *, transaction: bool = False) -> T:
        """Run ``plan`` on a pooled connection; each statement commits on its own unless
        ``transaction``, where the whole plan commits at its end or rolls back on an error."""
        try:
            async with self._pool.connection() as connection:
                if not transaction:
                    return await run_plan_async(plan, connection)
                async with connection.transaction():
                    return await run_plan_async(plan, connection)
        except OperationalError:
            # The connection was lost (a database restart, say): the pool drops it; test
            # the idle ones now, so that the next requests do not fail on them one by one.
            await self._pool.check()
            raise


def pg_array(name: str, element: Any = String) -> Any:
    """A parameter that travels as a PostgreSQL array of ``element`` (to ``unnest`` it)."""
    return bindparam(name, type_=ARRAY(element))


def sql_constant(value: str) -> Any:
    """A string constant written into the SQL text (only for the code's own words).

    Statements in a ``WITH`` clause that the main statement does not
    reference lose the values of SQLAlchemy's anonymous parameters from one
    run to the next; a constant in the text has none to lose.
    """
    assert value.replace(".", "").replace("_", "").isalnum(), value
    return literal_column(f"'{value}'", String)
