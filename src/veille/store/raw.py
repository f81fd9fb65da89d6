"""Running a prepared Core statement straight through psycopg, for the hottest paths.

SQLAlchemy's ``Connection.execute`` costs about 100 µs of Python per
statement (cache lookup, parameter processing, result set-up) on top of
psycopg's own work; the ESP API runs a dozen statements per report, so on
PostgreSQL its statements are compiled once by SQLAlchemy and then sent by
psycopg directly, on the connection (and in the transaction) of a
SQLAlchemy ``Connection``. Parameters go to psycopg as given: only plain
values (str, int, aware datetimes, lists, ``StrEnum`` members) belong here,
since SQLAlchemy's type processors do not run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, String, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = postgresql.psycopg.dialect()


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


def sql_constant(value: str) -> Any:
    """A string constant written into the SQL text (only for the code's own words).

    Statements in a ``WITH`` clause that the main statement does not
    reference lose the values of SQLAlchemy's anonymous parameters from one
    run to the next; a constant in the text has none to lose.
    """
    assert value.replace(".", "").replace("_", "").isalnum(), value
    return literal_column(f"'{value}'", String)
