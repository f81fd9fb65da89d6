"""Storing reports that arrive one at a time through a channel.

Every channel builds a :class:`~veille.intake.schema.ReportIn` and hands it
here; a report from the ESP API, the REST API or the hotline form is laid
out exactly like an imported one, by the same writer
(:mod:`veille.intake.report_writer`): several reports at once go in bulk,
a single report the engine's fastest way (on PostgreSQL one prepared
statement, which the ESP API also runs on its asynchronous connections, see
:func:`pg_store_new_report`). What this module adds: the country is derived
from every clue the channel has (IP addresses included, see
:mod:`veille.intake.country`), and (source, external id) gives idempotency:
the same key with the same content returns the stored report, with other
content is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select, tuple_
from sqlalchemy.orm import Session

from veille.intake.country import CountryClues, derive_country
from veille.intake.report_rows import PreparedReport, prepare_report
from veille.intake.report_writer import POSTGRES, ReportWriter, statements_for
from veille.intake.schema import ReportIn
from veille.store.models import MediaItem, Report
from veille.store.raw import Plan, compute
from veille.vocab import IdentifierKind


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
    bound = connection.connection() if isinstance(connection, Session) else connection
    statements_for(bound.dialect.name).lock(bound)


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
    fresh: list[tuple[int, PreparedReport]] = []
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
        fresh.append((position, _prepare(item, digest)))
    writer = ReportWriter(connection)
    if len(fresh) == 1:
        position, prepared = fresh[0]
        report_id, media_item_ids = writer.write_one(prepared)
        results[position] = Stored(report_id, True, media_item_ids)
    elif fresh:
        ids = writer.write([prepared for _, prepared in fresh])
        media_ids = _media_ids(connection, ids)
        for (position, _), report_id in zip(fresh, ids, strict=True):
            results[position] = Stored(report_id, True, media_ids.get(report_id, []))
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
    report_id, media_item_ids = ReportWriter(connection).write_one(
        _prepare(item, item.record.content_sha256())
    )
    return Stored(report_id, True, media_item_ids)


def pg_store_new_report(item: Incoming, *, offload: bool = False) -> Plan[Stored]:
    """PostgreSQL: :func:`store_new_report` as a plan (:mod:`veille.store.raw`).

    ``offload``: on the event loop, prepare the report's values (digest,
    country, lists) in a worker thread: for a large report.
    """
    prepared = yield from compute(
        lambda: _prepare(item, item.record.content_sha256()), offload=offload
    )
    report_id, media_item_ids = yield from POSTGRES.write_one_plan(prepared)
    return Stored(report_id, True, media_item_ids)


def _prepare(item: Incoming, digest: str) -> PreparedReport:
    """The row values of an incoming report, with the country derived from every clue."""
    return prepare_report(
        item.record,
        source=item.source,
        digest=digest,
        owner_id=item.owner_id,
        country=derive_country(clues_for(item)),
    )


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
