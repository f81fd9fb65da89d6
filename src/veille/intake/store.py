"""Storing reports that arrive one at a time through a channel.

Every channel builds a :class:`~veille.intake.schema.ReportIn` and hands it
here; a report from the ESP API, the REST API or the hotline form is laid
out exactly like an imported one. Several reports at once (bulk) go through
the bulk importer's writer; a single report takes a short path of plain
single-row inserts (the importer's id allocation and COPY cost a dozen round
trips, more than the report itself), and a test checks that both paths store
the same rows. What this module adds: the country is derived from every clue
the channel has (IP addresses included, see :mod:`veille.intake.country`),
and (source, external id) gives idempotency: the same key with the same
content returns the stored report, with other content is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from veille.intake.country import CountryClues, derive_country
from veille.intake.importer import _REPORT_COLUMNS as importer_columns
from veille.intake.importer import _BatchWriter, _Pending
from veille.intake.importer import derive_country as importer_choice
from veille.intake.schema import MediaIn, ReportIn
from veille.store.models import (
    Identifier,
    MediaItem,
    Report,
    ReportFlagRow,
    ReportIdentifier,
    ReportOffence,
)
from veille.store.raw import PgStatement, Plan, compute, pg_array, run_plan
from veille.store.types import utcnow
from veille.vocab import IdentifierKind

_REPORT = cast(Table, Report.__table__)
_OFFENCE = cast(Table, ReportOffence.__table__)
_FLAG = cast(Table, ReportFlagRow.__table__)
_MEDIA = cast(Table, MediaItem.__table__)
_IDENTIFIER = cast(Table, Identifier.__table__)
_LINK = cast(Table, ReportIdentifier.__table__)
# Statements built once: SQLAlchemy reuses their compiled form for every report.
_INSERT_REPORT = insert(_REPORT).returning(_REPORT.c.id)
_INSERT_OFFENCES = insert(_OFFENCE)
_INSERT_FLAGS = insert(_FLAG)
_INSERT_MEDIA = insert(_MEDIA).returning(_MEDIA.c.id, sort_by_parameter_order=True)
_INSERT_LINKS = insert(_LINK)
_IDENTIFIER_KEY = (_IDENTIFIER.c.kind, _IDENTIFIER.c.value, _IDENTIFIER.c.platform)
_IDENTIFIER_IDS = select(_IDENTIFIER.c.id, *_IDENTIFIER_KEY).where(
    tuple_(*_IDENTIFIER_KEY).in_(bindparam("keys", expanding=True))
)
# The columns a report row is written with (its id comes from the database).
_REPORT_COLUMNS = tuple(name for name in importer_columns if name != "id")
# A media item's columns are the fields of MediaIn, whose model_dump() fills them.
_MEDIA_COLUMNS = tuple(MediaIn.model_fields)
_MEDIA_ARRAY_TYPES = {"size_bytes": BigInteger, "pdq_quality": Integer}


class IdempotencyConflict(ValueError):
    """The (source, external id) was stored before with different content."""


@dataclass(frozen=True)
class Incoming:
    """A validated report with where it comes from and who owns it."""

    record: ReportIn
    source: str
    owner_id: int
    extra_ips: tuple[str, ...] = ()
    extra_phones: tuple[str, ...] = ()
    provided_country: str | None = None


@dataclass
class Stored:
    """The outcome for one incoming report."""

    report_id: int
    created: bool
    media_item_ids: list[int] = field(default_factory=list)


def clues_for(item: Incoming) -> CountryClues:
    """Every country clue of an incoming report."""
    record = item.record
    ips = [i.value for i in record.identifiers if i.kind is IdentifierKind.IP]
    phones = [i.value for i in record.identifiers if i.kind is IdentifierKind.PHONE]
    return CountryClues.of(
        provided=item.provided_country or record.derived_country,
        ips=[*item.extra_ips, *ips],
        phones=[*item.extra_phones, *phones],
        stated=record.stated_country,
    )


def write_lock(connection: Connection | Session) -> None:
    """On SQLite, take the database write lock now, before the transaction reads anything.

    SQLite lets one writer in at a time; a transaction that read first and
    writes later can fail at once when another writer committed in between
    (the busy timeout does not help then). Taking the lock first makes
    concurrent requests wait their turn instead. PostgreSQL needs nothing.
    """
    bind = connection.get_bind() if isinstance(connection, Session) else connection
    if bind.dialect.name == "sqlite":
        connection.execute(text("DELETE FROM report WHERE 0"))


def store_reports(connection: Connection, items: Sequence[Incoming]) -> list[Stored]:
    """Write new reports (in the caller's transaction); one :class:`Stored` per item.

    Raises :class:`IdempotencyConflict` naming the external id when a key was
    used before for different content; the caller's transaction should then
    be rolled back.
    """
    write_lock(connection)
    keys = [(item.source, item.record.external_id) for item in items]
    existing = _existing(connection, keys)
    results: list[Stored | None] = [None] * len(items)
    fresh: list[tuple[int, _Pending]] = []
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for position, (item, key) in enumerate(zip(items, keys, strict=True)):
        known = existing.get(key)
        if known is not None:
            report_id, digest, received_at = known
            # A replay is received again later: compare it as if received at the first time.
            replay = item.record.model_copy(update={"received_at": received_at})
            if replay.content_sha256() != digest:
                raise IdempotencyConflict(
                    f"external_id: {key[1]!r} was used before for a different report"
                )
            results[position] = Stored(report_id, False)
            continue
        digest = item.record.content_sha256()
        if key in seen:
            if seen[key][1] != digest:
                raise IdempotencyConflict(
                    f"external_id: {key[1]!r} appears twice with different content"
                )
            continue
        seen[key] = (position, digest)
        fresh.append((position, _Pending(0, "", item.record, item.source, digest, item.owner_id)))
    if len(fresh) == 1:
        position, pending = fresh[0]
        report_id, media_item_ids = _write_one(connection, items[position], pending.digest)
        results[position] = Stored(report_id, True, media_item_ids)
    elif fresh:
        writer = _BatchWriter(connection, "", None)
        ids = writer.write([pending for _, pending in fresh])
        media_ids = _media_ids(connection, ids)
        for (position, _), report_id in zip(fresh, ids, strict=True):
            results[position] = Stored(report_id, True, media_ids.get(report_id, []))
            _fix_country(connection, items[position], report_id)
    for position, key in enumerate(keys):
        if results[position] is None:
            first = results[seen[key][0]]
            assert first is not None
            results[position] = Stored(first.report_id, False)
    return [result for result in results if result is not None]


def store_new_report(connection: Connection, item: Incoming) -> Stored:
    """Write one report whose (source, external id) the caller knows to be new.

    Skips the idempotency lookup of :func:`store_reports`; should the key
    exist after all, the unique constraint refuses the insert.
    """
    write_lock(connection)
    report_id, media_item_ids = _write_one(connection, item, item.record.content_sha256())
    return Stored(report_id, True, media_item_ids)


def _report_values(item: Incoming, digest: str) -> dict[str, Any]:
    """The ``report`` row of an incoming report, with the country derived from every clue."""
    record = item.record
    country, reason = derive_country(clues_for(item))
    return {
        "source": item.source,
        "external_id": record.external_id,
        "content_sha256": digest,
        "channel": record.channel,
        "reporter_kind": record.reporter_kind,
        "received_at": record.received_at,
        "incident_at": record.incident_at,
        "stated_country": record.stated_country,
        "derived_country": country,
        "country_reason": reason,
        "platform": record.platform,
        "platform_category": record.platform_category,
        "summary": record.summary,
        "marking": record.marking,
        "owner_agency_id": item.owner_id,
        "created_at": utcnow(),
    }


def _identifier_keys(item: Incoming) -> list[tuple[str, str, str]]:
    """The (kind, value, platform) of a report's identifiers, each once, in order."""
    return list(dict.fromkeys((i.kind.value, i.value, i.platform) for i in item.record.identifiers))


def _write_one(connection: Connection, item: Incoming, digest: str) -> tuple[int, list[int]]:
    """Insert one report with a handful of statements; returns (report id, media item ids).

    Rows are laid out as the importer's writer lays them out; the importer's
    writer is built for batches of thousands (bulk id allocation, COPY), which
    costs a dozen round trips for a single report. On PostgreSQL the report
    and everything it holds go in one statement (see :func:`_pg_write_one`).
    """
    record = item.record
    keys = _identifier_keys(item)
    if connection.dialect.name == "postgresql":
        return run_plan(
            _pg_write_one(_pg_write_parameters(item, digest, keys), bool(keys)), connection
        )
    report_id: int = connection.execute(_INSERT_REPORT, _report_values(item, digest)).scalar_one()
    if record.offence_types:
        connection.execute(
            _INSERT_OFFENCES,
            [{"report_id": report_id, "offence_type": o} for o in record.offence_types],
        )
    if record.flags:
        connection.execute(
            _INSERT_FLAGS, [{"report_id": report_id, "flag": flag} for flag in record.flags]
        )
    media_ids: list[int] = []
    if record.media:
        media_ids = list(
            connection.execute(
                _INSERT_MEDIA,
                [{"report_id": report_id, **m.model_dump()} for m in record.media],
            ).scalars()
        )
    if keys:
        identifier_ids = _identifier_ids(connection, keys)
        connection.execute(
            _INSERT_LINKS,
            [
                {"report_id": report_id, "identifier_id": identifier_id}
                for identifier_id in sorted({identifier_ids[key] for key in keys})
            ],
        )
    return report_id, media_ids


def _identifier_rows() -> Any:
    """The (kind, value, platform) rows of the ``i_kinds``, ``i_values``, ``i_platforms`` arrays."""
    return (
        func.unnest(pg_array("i_kinds"), pg_array("i_values"), pg_array("i_platforms"))
        .table_valued("kind", "value", "platform")
        .render_derived()
    )


@lru_cache(maxsize=1)
def _pg_write() -> PgStatement:
    return PgStatement.of(_pg_write_statement())


def _pg_write_statement() -> Any:
    """One PostgreSQL statement that writes a report, its offences, flags, media and links.

    Lists travel as arrays and are unnested server-side, so the statement's
    text is the same for every report and psycopg can prepare it. Media rows
    are inserted in list order, so their new ids, sorted, follow that order.
    """
    new_report = (
        insert(_REPORT)
        .values({name: bindparam(name, type_=_REPORT.c[name].type) for name in _REPORT_COLUMNS})
        .returning(_REPORT.c.id)
        .cte("new_report")
    )
    offences = func.unnest(pg_array("offence_types")).table_valued("value").render_derived()
    flags = func.unnest(pg_array("flags")).table_valued("value").render_derived()
    media = (
        func.unnest(
            *(
                pg_array(f"m_{name}", _MEDIA_ARRAY_TYPES.get(name, String))
                for name in _MEDIA_COLUMNS
            )
        )
        .table_valued(*_MEDIA_COLUMNS, with_ordinality="position")
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
            ["report_id", *_MEDIA_COLUMNS],
            select(new_report.c.id, *(media.c[name] for name in _MEDIA_COLUMNS))
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


_PG_ADD_IDENTIFIERS = PgStatement.of(
    pg_insert(_IDENTIFIER)
    .from_select(
        ["kind", "value", "platform"],
        select(_identifier_rows()),
    )
    .on_conflict_do_nothing()
)


def pg_store_new_report(item: Incoming, *, offload: bool = False) -> Plan[Stored]:
    """PostgreSQL: :func:`store_new_report` as a plan (:mod:`veille.store.raw`).

    ``offload``: on the event loop, prepare the statement's values (digest,
    country, lists) in a worker thread: for a large report.
    """
    keys = _identifier_keys(item)
    parameters = yield from compute(
        lambda: _pg_write_parameters(item, item.record.content_sha256(), keys), offload=offload
    )
    report_id, media_item_ids = yield from _pg_write_one(parameters, bool(keys))
    return Stored(report_id, True, media_item_ids)


def _pg_write_parameters(
    item: Incoming, digest: str, keys: list[tuple[str, str, str]]
) -> dict[str, Any]:
    """The values of :func:`_pg_write_statement` (identifiers included) for one report."""
    record = item.record
    media = [m.model_dump() for m in record.media]
    return {
        **_report_values(item, digest),
        "offence_types": [o.value for o in record.offence_types],
        "flags": [f.value for f in record.flags],
        **{f"m_{name}": [m[name] for m in media] for name in _MEDIA_COLUMNS},
        "i_kinds": [k for k, _, _ in keys],
        "i_values": [v for _, v, _ in keys],
        "i_platforms": [p for _, _, p in keys],
    }


def _pg_write_one(parameters: dict[str, Any], identifiers: bool) -> Plan[tuple[int, list[int]]]:
    """PostgreSQL: a report in two round trips (one without ``identifiers``).

    Missing identifiers are added first, in a statement of their own: its
    ``ON CONFLICT DO NOTHING`` waits for a concurrent transaction adding the
    same identifier, and only a later statement sees that row to link it.
    """
    if identifiers:
        yield (
            _PG_ADD_IDENTIFIERS,
            {k: parameters[k] for k in ("i_kinds", "i_values", "i_platforms")},
        )
    (row,) = yield _pg_write(), parameters
    return row[0], list(row[1])


def _identifier_ids(
    connection: Connection, keys: list[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    """The ids of identifiers (kind, value, platform), creating the missing ones."""

    def known() -> dict[tuple[str, str, str], int]:
        rows = connection.execute(_IDENTIFIER_IDS, {"keys": keys})
        return {(str(kind), value, platform): i for i, kind, value, platform in rows}

    found = known()
    missing = [key for key in keys if key not in found]
    if missing:
        # Another request may create the same identifier at the same moment: the
        # unique constraint decides, and the second insert does nothing.
        dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            dialect_insert(_IDENTIFIER).on_conflict_do_nothing(),
            [
                {"kind": kind, "value": value, "platform": platform}
                for kind, value, platform in missing
            ],
        )
        found = known()
    return found


def _existing(
    connection: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, datetime]]:
    found: dict[tuple[str, str], tuple[int, str, datetime]] = {}
    for start in range(0, len(keys), 500):
        chunk = list(set(keys[start : start + 500]))
        rows = connection.execute(
            select(
                Report.source,
                Report.external_id,
                Report.id,
                Report.content_sha256,
                Report.received_at,
            ).where(tuple_(Report.source, Report.external_id).in_(chunk))
        )
        for source, external_id, report_id, digest, received_at in rows:
            found[(source, external_id)] = (report_id, digest, received_at)
    return found


def _media_ids(connection: Connection, report_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if not report_ids:
        return found
    rows = connection.execute(
        select(MediaItem.report_id, MediaItem.id)
        .where(MediaItem.report_id.in_(list(report_ids)))
        .order_by(MediaItem.id)
    )
    for report_id, media_id in rows:
        found.setdefault(report_id, []).append(media_id)
    return found


def _fix_country(connection: Connection, item: Incoming, report_id: int) -> None:
    """Replace the importer's country choice when the channel knows more (IPs, estimates)."""
    country, reason = derive_country(clues_for(item))
    if (country, reason) == importer_choice(item.record):
        return
    connection.execute(
        update(Report)
        .where(Report.id == report_id)
        .values(derived_country=country, country_reason=reason)
    )
