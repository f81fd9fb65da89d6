"""Writing prepared reports: one body for every engine, each engine's statements in one adapter.

:class:`ReportWriter` writes reports (the row, offences, flags, media,
identifiers and their links) for the bulk import and for every channel.
What differs between engines lives in a :class:`ReportStatements` adapter:
how the write lock is taken, how ids are reserved, how many rows go in at
once (``executemany`` on SQLite, ``COPY`` on PostgreSQL), and how a single
report is written fastest (on PostgreSQL one prepared statement,
:meth:`PostgresStatements.write_one_plan`, which the ESP API also runs on
its asynchronous connections).

Every ``report`` value crosses its column type's own check and conversion
on every path (:func:`report_row`): a naive datetime is refused
(:class:`~veille.store.types.UTCDateTime`) whether the row then goes through
SQLAlchemy, ``executemany``, ``COPY`` or psycopg directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Dialect,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as pg_insert

from veille.intake.report_rows import MEDIA_COLUMNS, REPORT_COLUMNS, PreparedReport
from veille.store.models import (
    Identifier,
    MediaItem,
    Report,
    ReportFlagRow,
    ReportIdentifier,
    ReportOffence,
)
from veille.store.raw import PgStatement, Plan, pg_array, run_plan
from veille.store.types import StrEnumType, utcnow

_REPORT = cast(Table, Report.__table__)
_OFFENCE = cast(Table, ReportOffence.__table__)
_FLAG = cast(Table, ReportFlagRow.__table__)
_MEDIA = cast(Table, MediaItem.__table__)
_IDENTIFIER = cast(Table, Identifier.__table__)
_LINK = cast(Table, ReportIdentifier.__table__)
_MEDIA_ARRAY_TYPES = {"size_bytes": BigInteger, "pdq_quality": Integer}
# A report id not known yet (the database assigns it in the same statement).
_NO_ID = 0

Processors = list[tuple[int, Callable[[Any], Any]]]


def report_processors(dialect: Dialect) -> Processors:
    """The ``report`` columns' own type checks and conversions on ``dialect``, by position.

    Applying them once per value and sending rows straight to the driver
    stores exactly what an ORM insert would (SQLite's timestamp text, say),
    and refuses what it would refuse (a naive datetime), without
    SQLAlchemy's per-row statement overhead. Enum columns are left out: they
    already hold validated plain strings.
    """
    found: Processors = []
    for index, name in enumerate(REPORT_COLUMNS):
        column_type = _REPORT.c[name].type
        process = column_type.bind_processor(dialect)
        if process is not None and not isinstance(column_type, StrEnumType):
            found.append((index, process))
    return found


def report_row(
    item: PreparedReport, report_id: int, created_at: datetime, processors: Processors
) -> tuple[Any, ...]:
    """The ``report`` row of ``item`` in :data:`REPORT_COLUMNS` order, checked and converted."""
    values = [
        report_id,
        item.source,
        item.external_id,
        item.digest,
        *item.report,
        item.owner_id,
        created_at,
    ]
    for index, process in processors:
        values[index] = process(values[index])
    return tuple(values)


class ReportStatements:
    """What differs between engines when reports are written; one subclass per engine."""

    def __init__(self, dialect: Dialect) -> None:
        self.processors = report_processors(dialect)

    def lock(self, connection: Connection) -> None:
        """Take what the writer needs before it reads (nothing by default)."""

    def allocate_ids(self, connection: Connection, table: str, count: int) -> list[int]:
        """Reserve ``count`` primary keys of ``table`` for rows inserted in bulk."""
        raise NotImplementedError

    def insert_rows(
        self, connection: Connection, table: Table, columns: Sequence[str], rows: list[Any]
    ) -> None:
        """Insert plain rows straight through the driver."""
        raise NotImplementedError

    def write_one(self, writer: ReportWriter, item: PreparedReport) -> tuple[int, list[int]]:
        """Write one report; returns (report id, media item ids in list order)."""
        (report_id,) = writer.write([item])
        media_ids: list[int] = []
        if item.media:
            media_ids = list(
                writer.connection.execute(
                    select(_MEDIA.c.id).where(_MEDIA.c.report_id == report_id).order_by(_MEDIA.c.id)
                ).scalars()
            )
        return report_id, media_ids


class SqliteStatements(ReportStatements):
    """SQLite: one writer at a time, so ids are reserved from max(id) under the write lock."""

    def lock(self, connection: Connection) -> None:
        # SQLite lets one writer in at a time; a transaction that read first and
        # writes later can fail at once when another writer committed in between.
        connection.exec_driver_sql("DELETE FROM report WHERE 0")

    def allocate_ids(self, connection: Connection, table: str, count: int) -> list[int]:
        top = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar()
        return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))

    def insert_rows(
        self, connection: Connection, table: Table, columns: Sequence[str], rows: list[Any]
    ) -> None:
        cursor = connection.connection.cursor()
        try:
            marks = ", ".join(["?"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
            )
        finally:
            cursor.close()


class PostgresStatements(ReportStatements):
    """PostgreSQL: ids from the sequences, batches by ``COPY``, one report in one statement."""

    def allocate_ids(self, connection: Connection, table: str, count: int) -> list[int]:
        rows = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            f"FROM generate_series(1, {int(count)})"
        )
        return [row[0] for row in rows]

    def insert_rows(
        self, connection: Connection, table: Table, columns: Sequence[str], rows: list[Any]
    ) -> None:
        cursor = connection.connection.cursor()
        try:
            # One round trip per batch instead of one statement per row.
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()

    def write_one(self, writer: ReportWriter, item: PreparedReport) -> tuple[int, list[int]]:
        return run_plan(self.write_one_plan(item), writer.connection)

    def write_one_plan(self, item: PreparedReport) -> Plan[tuple[int, list[int]]]:
        """One report in two round trips (one without identifiers), as a plan (:mod:`veille.store.raw`).

        Missing identifiers are added first, in a statement of their own: its
        ``ON CONFLICT DO NOTHING`` waits for a concurrent transaction adding
        the same identifier, and only a later statement sees that row to link it.
        """
        keys = list(dict.fromkeys(item.identifiers))
        identifiers = {
            "i_kinds": [k for k, _, _ in keys],
            "i_values": [v for _, v, _ in keys],
            "i_platforms": [p for _, _, p in keys],
        }
        if keys:
            yield self._add_identifiers, identifiers
        row = report_row(item, _NO_ID, utcnow(), self.processors)
        parameters = {
            **dict(zip(REPORT_COLUMNS[1:], row[1:], strict=True)),
            "offence_types": list(item.offences),
            "flags": list(item.flags),
            **{
                f"m_{name}": [media[index] for media in item.media]
                for index, name in enumerate(MEDIA_COLUMNS)
            },
            **identifiers,
        }
        (written,) = yield self._write_report, parameters
        return written[0], list(written[1])

    @cached_property
    def _add_identifiers(self) -> PgStatement:
        return PgStatement.of(
            pg_insert(_IDENTIFIER)
            .from_select(["kind", "value", "platform"], select(_identifier_rows()))
            .on_conflict_do_nothing()
        )

    @cached_property
    def _write_report(self) -> PgStatement:
        # Compiled once: psycopg then prepares it, its text being the same for every report.
        return PgStatement.of(_pg_write_statement())


def _identifier_rows() -> Any:
    """The (kind, value, platform) rows of the ``i_kinds``, ``i_values``, ``i_platforms`` arrays."""
    return (
        func.unnest(pg_array("i_kinds"), pg_array("i_values"), pg_array("i_platforms"))
        .table_valued("kind", "value", "platform")
        .render_derived()
    )


def _pg_write_statement() -> Any:
    """One PostgreSQL statement that writes a report, its offences, flags, media and links.

    Lists travel as arrays and are unnested server-side, so the statement's
    text is the same for every report and psycopg can prepare it. Media rows
    are inserted in list order, so their new ids, sorted, follow that order.
    """
    columns = REPORT_COLUMNS[1:]
    new_report = (
        insert(_REPORT)
        .values({name: bindparam(name, type_=_REPORT.c[name].type) for name in columns})
        .returning(_REPORT.c.id)
        .cte("new_report")
    )
    offences = func.unnest(pg_array("offence_types")).table_valued("value").render_derived()
    flags = func.unnest(pg_array("flags")).table_valued("value").render_derived()
    media = (
        func.unnest(
            *(pg_array(f"m_{name}", _MEDIA_ARRAY_TYPES.get(name, String)) for name in MEDIA_COLUMNS)
        )
        .table_valued(*MEDIA_COLUMNS, with_ordinality="position")
        .render_derived()
    )
    keys = _identifier_rows()
    new_offences = insert(_OFFENCE).from_select(
        ["report_id", "offence_type"],
        select(new_report.c.id, offences.c.value).join_from(new_report, offences, true()),
    )
    new_flags = insert(_FLAG).from_select(
        ["report_id", "flag"],
        select(new_report.c.id, flags.c.value).join_from(new_report, flags, true()),
    )
    new_media = (
        insert(_MEDIA)
        .from_select(
            ["report_id", *MEDIA_COLUMNS],
            select(new_report.c.id, *(media.c[name] for name in MEDIA_COLUMNS))
            .join_from(new_report, media, true())
            .order_by(media.c.position),
        )
        .returning(_MEDIA.c.id)
        .cte("new_media")
    )
    new_links = insert(_LINK).from_select(
        ["report_id", "identifier_id"],
        select(new_report.c.id, _IDENTIFIER.c.id)
        .join_from(new_report, keys, true())
        .join(
            _IDENTIFIER,
            and_(
                _IDENTIFIER.c.kind == keys.c.kind,
                _IDENTIFIER.c.value == keys.c.value,
                _IDENTIFIER.c.platform == keys.c.platform,
            ),
        )
        .order_by(_IDENTIFIER.c.id),
    )
    media_ids = select(new_media.c.id).order_by(new_media.c.id).scalar_subquery()
    return select(new_report.c.id, func.array(media_ids)).add_cte(
        new_offences.cte("new_offences"),
        new_flags.cte("new_flags"),
        new_links.cte("new_links"),
    )


SQLITE = SqliteStatements(sqlite.pysqlite.dialect())
POSTGRES = PostgresStatements(postgresql.psycopg.dialect())


def statements_for(dialect_name: str) -> ReportStatements:
    """The adapter of an engine (``sqlite`` or ``postgresql``)."""
    if dialect_name == "postgresql":
        return POSTGRES
    if dialect_name == "sqlite":
        return SQLITE
    raise ValueError(f"no report writer for the {dialect_name!r} engine")


class ReportWriter:
    """Writes prepared reports on one connection, in its transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.statements = statements_for(connection.dialect.name)
        self.identifier_ids: dict[tuple[str, str, str], int] = {}

    def lock(self) -> None:
        """Take the engine's write lock now (SQLite), before the transaction reads anything."""
        self.statements.lock(self.connection)

    def write_one(self, item: PreparedReport) -> tuple[int, list[int]]:
        """Write one report the engine's fastest way; returns (report id, media item ids)."""
        return self.statements.write_one(self, item)

    def write(self, batch: Sequence[PreparedReport]) -> list[int]:
        """Insert prepared reports and their child rows; returns the report ids in order.

        Knowing the ids before inserting lets child rows be written in bulk
        (RETURNING would send one statement per row on SQLite).
        """
        if not batch:
            return []
        statements = self.statements
        created_at = utcnow()
        ids = statements.allocate_ids(self.connection, "report", len(batch))
        processors = statements.processors
        rows = [
            report_row(item, report_id, created_at, processors)
            for item, report_id in zip(batch, ids, strict=True)
        ]
        statements.insert_rows(self.connection, _REPORT, REPORT_COLUMNS, rows)
        offences: list[tuple[Any, ...]] = []
        flags: list[tuple[Any, ...]] = []
        media: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        identifier_keys: set[tuple[str, str, str]] = set()
        for item, report_id in zip(batch, ids, strict=True):
            offences.extend((report_id, offence) for offence in item.offences)
            flags.extend((report_id, flag) for flag in item.flags)
            media.extend((report_id, *values) for values in item.media)
            identifier_keys.update(item.identifiers)
        identifier_ids = self._identifier_ids(identifier_keys)
        for item, report_id in zip(batch, ids, strict=True):
            linked = {identifier_ids[key] for key in item.identifiers}
            links.extend((report_id, identifier_id) for identifier_id in sorted(linked))
        for table, columns, child_rows in (
            (_OFFENCE, ("report_id", "offence_type"), offences),
            (_FLAG, ("report_id", "flag"), flags),
            (_MEDIA, ("report_id", *MEDIA_COLUMNS), media),
            (_LINK, ("report_id", "identifier_id"), links),
        ):
            if child_rows:
                statements.insert_rows(self.connection, table, columns, child_rows)
        return ids

    def _identifier_ids(self, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        """The ids of identifiers (kind, value, platform), adding the missing ones."""
        missing = [key for key in keys if key not in self.identifier_ids]
        by_kind_platform = group([((kind, platform), value) for kind, value, platform in missing])
        for (kind, platform), values in by_kind_platform.items():
            for start in range(0, len(values), 900):
                rows = self.connection.execute(
                    select(_IDENTIFIER.c.id, _IDENTIFIER.c.value).where(
                        _IDENTIFIER.c.kind == kind,
                        _IDENTIFIER.c.platform == platform,
                        _IDENTIFIER.c.value.in_(values[start : start + 900]),
                    )
                )
                for identifier_id, value in rows:
                    self.identifier_ids[(kind, value, platform)] = identifier_id
        new = [key for key in missing if key not in self.identifier_ids]
        if new:
            new_ids = self.statements.allocate_ids(self.connection, "identifier", len(new))
            self.statements.insert_rows(
                self.connection,
                _IDENTIFIER,
                ("id", "kind", "value", "platform"),
                [(i, *key) for i, key in zip(new_ids, new, strict=True)],
            )
            self.identifier_ids.update(zip(new, new_ids, strict=True))
        # Bound the cache: a 2M-report import must not hold every identifier.
        if len(self.identifier_ids) > 500_000:
            self.identifier_ids = {key: self.identifier_ids[key] for key in keys}
        return self.identifier_ids


def group(pairs: Iterable[tuple[Any, str]]) -> dict[Any, list[str]]:
    """The values of (key, value) pairs, by key, in order."""
    grouped: dict[Any, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped
