"""SQL pieces that each engine writes its own way.

``column IN (...)`` with hundreds of values is one bound parameter per value:
SQLAlchemy expands the list at every execution, and psycopg parses the long
statement it gets again each time (it only caches short ones). On
PostgreSQL, :func:`among` sends the values as one array instead
(``column = ANY(%(values)s)``): one parameter, a short statement that is
prepared once. SQLite has no arrays and keeps the ``IN`` list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Boolean, ColumnElement, bindparam, func, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class _Among(ColumnElement[bool]):
    """``column`` is one of ``values`` (see :func:`among`)."""

    type = Boolean()
    _is_implicitly_boolean = (
        True  # a comparison already: no "= 1" added where booleans are not native
    )
    inherit_cache = False  # the values live in the element, not in a cached statement

    def __init__(self, column: ColumnElement[Any], values: list[Any]) -> None:
        self.column = column
        self.values = values


@compiles(_Among)
def _among_default(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.values), **kw))


@compiles(_Among, "postgresql")
def _among_postgresql(element: _Among, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(None, element.values, type_=ARRAY(element.column.type))
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(values, **kw)})"


def among(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``, as one array parameter on PostgreSQL."""
    return _Among(column, list(values))


def advisory_key(name: str) -> ColumnElement[int]:
    """The key of PostgreSQL advisory lock ``name`` for the schema in use.

    Advisory locks are shared by the whole database: keying them by schema
    too keeps two deployments (or two test runs) in schemas of one database
    from waiting on each other's locks.
    """
    return func.hashtextextended(
        func.concat(func.current_schema(), "/", literal(name)), 0, type_=BigInteger
    )
