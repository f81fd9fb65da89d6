"""One writer for every report: the same rows and the same type checks on every path and engine.

The paths: the bulk import's batches (:meth:`ReportWriter.write`, which
:func:`store_reports` also uses for several reports), a single report
(:func:`store_new_report`, :func:`store_reports` with one) and the ESP
API's PostgreSQL fast path (:func:`pg_store_new_report`, run on psycopg's
asynchronous connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import make_agencies, report_record, write_jsonl
from veille.intake.importer import ImportRefused, import_reports
from veille.intake.report_rows import MEDIA_COLUMNS, prepare_report
from veille.intake.report_writer import ReportWriter
from veille.intake.schema import MediaIn, ReportIn
from veille.intake.store import Incoming, pg_store_new_report, store_new_report, store_reports
from veille.store.db import Database
from veille.store.models import Identifier, MediaItem, Report
from veille.store.raw import AsyncPgPool, run_plan

NAIVE = datetime(2024, 5, 1, 8, 30)


@pytest.fixture
def owner_id(database: Database) -> int:
    with database.session() as session:
        return make_agencies(session)["Police FR"].id


def _record(number: int, **times: datetime) -> ReportIn:
    record = ReportIn.model_validate(report_record(number))
    # model_copy does not validate: the way a naive time could reach the writer.
    return record.model_copy(update=times)


def _incoming(owner_id: int, number: int, **times: datetime) -> Incoming:
    return Incoming(_record(number, **times), "writer-test", owner_id)


def _nothing_written(database: Database) -> None:
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 0
        assert session.scalar(select(func.count()).select_from(MediaItem)) == 0
        assert session.scalar(select(func.count()).select_from(Identifier)) == 0


def _batch_write(database: Database, owner_id: int, **times: datetime) -> None:
    records = [_record(number, **times) for number in (1, 2)]
    with database.engine.begin() as connection:
        ReportWriter(connection).write(
            [
                prepare_report(r, source="s", digest=r.content_sha256(), owner_id=owner_id)
                for r in records
            ]
        )


def _channel_batch(database: Database, owner_id: int, **times: datetime) -> None:
    with database.engine.begin() as connection:
        store_reports(connection, [_incoming(owner_id, n, **times) for n in (1, 2)])


def _single_write(database: Database, owner_id: int, **times: datetime) -> None:
    with database.engine.begin() as connection:
        store_new_report(connection, _incoming(owner_id, 1, **times))


def _channel_single(database: Database, owner_id: int, **times: datetime) -> None:
    with database.engine.begin() as connection:
        store_reports(connection, [_incoming(owner_id, 1, **times)])


PATHS: dict[str, Callable[..., None]] = {
    "batch": _batch_write,
    "channel batch": _channel_batch,
    "single": _single_write,
    "channel single": _channel_single,
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("field", ["received_at", "incident_at"])
def test_a_naive_time_is_refused_on_every_path(
    database: Database, owner_id: int, path: str, field: str
) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        PATHS[path](database, owner_id, **{field: NAIVE})
    _nothing_written(database)


@pytest.mark.parametrize("path", list(PATHS))
def test_an_aware_time_is_stored_in_utc_on_every_path(
    database: Database, owner_id: int, path: str
) -> None:
    paris = datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    PATHS[path](database, owner_id, received_at=paris)
    with database.session() as session:
        stored = session.scalars(select(Report.received_at)).all()
    assert stored and all(t == datetime(2024, 5, 1, 8, 30, tzinfo=UTC) for t in stored)
    assert all(t.utcoffset() == timedelta(0) for t in stored)


def _postgresql(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("the fast path is PostgreSQL's")


def _on_the_loop(database: Database, item: Incoming) -> None:
    async def run() -> None:
        pool = AsyncPgPool(database.engine, min_size=1, max_size=1)
        await pool.open()
        try:
            await pool.run(pg_store_new_report(item), transaction=True)
        finally:
            await pool.close()

    asyncio.run(run())


@pytest.mark.parametrize("field", ["received_at", "incident_at"])
def test_the_postgresql_fast_path_refuses_a_naive_time(
    database: Database, owner_id: int, field: str
) -> None:
    _postgresql(database)
    with pytest.raises(ValueError, match="naive datetime"):
        _on_the_loop(database, _incoming(owner_id, 1, **{field: NAIVE}))
    with (
        pytest.raises(ValueError, match="naive datetime"),
        database.engine.begin() as connection,
    ):
        run_plan(pg_store_new_report(_incoming(owner_id, 2, **{field: NAIVE})), connection)
    _nothing_written(database)


def test_the_postgresql_fast_path_writes_what_the_batch_writes(
    database: Database, owner_id: int
) -> None:
    _postgresql(database)
    paris = datetime(2024, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    _on_the_loop(database, Incoming(_record(1, received_at=paris), "fast", owner_id))
    _channel_batch(database, owner_id, received_at=paris)
    with database.session() as session:
        reports = session.scalars(select(Report).order_by(Report.id)).all()
        assert [r.external_id for r in reports] == ["R-000001", "R-000001", "R-000002"]
        fast, batch = reports[0], reports[1]
        columns = [c.key for c in Report.__table__.c if c.key not in {"id", "source", "created_at"}]
        assert [getattr(fast, c) for c in columns] == [getattr(batch, c) for c in columns]
        assert sorted(o.offence_type for o in fast.offences) == sorted(
            o.offence_type for o in batch.offences
        )
        assert [(m.file_name, m.md5, m.pdq) for m in fast.media] == [
            (m.file_name, m.md5, m.pdq) for m in batch.media
        ]
        assert fast.received_at == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_a_naive_time_in_an_import_file_is_a_line_error(
    database: Database, owner_id: int, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "naive.jsonl",
        [report_record(1), report_record(2, received_at="2024-05-01T08:30:00")],
    )
    with pytest.raises(ImportRefused) as refused:
        import_reports(database, path)
    assert [(e.line, e.field) for e in refused.value.summary.errors] == [(2, "received_at")]
    _nothing_written(database)


def test_media_columns_follow_the_media_model() -> None:
    assert tuple(MediaIn.model_fields) == MEDIA_COLUMNS
