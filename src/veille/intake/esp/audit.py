"""The audit event of each ESP call, written by the call's own transaction or statement.

The credentials a provider signs in with name an actor and the agency they
belong to; every call that changes a report records them in ``audit_event``, on SQLite
as an ``INSERT`` of its own and on PostgreSQL inside the call's single
statement (:func:`audit_row`), so an audited change never costs a round
trip more.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Integer, String, Table, bindparam, insert, null, select, true
from sqlalchemy import cast as sql_cast

from veille.store.models import AuditEvent
from veille.store.raw import sql_constant
from veille.store.types import utcnow

AUDIT = cast(Table, AuditEvent.__table__)
_INSERT_AUDIT = insert(AUDIT)

AUDIT_COLUMNS = [
    "actor",
    "agency_id",
    "action",
    "object_type",
    "object_id",
    "detail",
    "at",
    "success",
]


def audit(
    connection: Connection,
    *,
    actor: str,
    agency_id: int,
    action: str,
    object_type: str,
    object_id: int,
    detail: str | None = None,
) -> None:
    """SQLite: record a call's audit event in the call's transaction."""
    connection.execute(
        _INSERT_AUDIT,
        {
            "actor": actor,
            "agency_id": agency_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "detail": detail,
            "at": utcnow(),
            "success": True,
        },
    )


def audit_row(action: str, object_type: str, object_id: Any, at: Any, detail: Any = None) -> Any:
    """A SELECT of one ``audit_event`` row, for ``INSERT ... SELECT`` on PostgreSQL.

    ``audit_actor`` and ``audit_agency`` come as parameters of the statement
    (named apart from any column: SQLAlchemy would add a parameter named like
    a column to the ``SET`` of an ``UPDATE`` in the same statement).
    """
    return select(
        bindparam("audit_actor", type_=String()),
        bindparam("audit_agency", type_=Integer()),
        sql_constant(action),
        sql_constant(object_type),
        sql_cast(object_id, String),
        null() if detail is None else detail,
        at,
        true(),
    )
