"""Bulk import of report files (JSON Lines or CSV) into the store.

One pass over the file validates every line and writes valid reports in
batches inside a single transaction. If any line is invalid the transaction
is rolled back (nothing is written) unless ``skip_invalid`` is set, in which
case good lines are kept and bad lines go to a rejects file. Re-importing a
report with the same (source, external id) and the same content changes
nothing; the same key with different content is an error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select

from veille.intake import readers
from veille.intake.readers import RawRecord
from veille.intake.schema import ReportIn, region_hint
from veille.linking.normalise import phone_country
from veille.store.audit import current_actor
from veille.store.db import Database
from veille.store.models import (
    Agency,
    AuditEvent,
    Identifier,
    MediaItem,
    Report,
    ReportFlagRow,
    ReportIdentifier,
    ReportOffence,
)
from veille.store.types import StrEnumType, utcnow
from veille.vocab import CountryReason, IdentifierKind

BATCH_SIZE = 2000
_MEDIA_COLUMNS = (
    "report_id",
    "file_name",
    "size_bytes",
    "media_type",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "pdq_quality",
)
MAX_ERRORS_KEPT = 1000
# Files at least this large are parsed and validated in a second process
# while this one writes (see :func:`import_reports`).
PARALLEL_MIN_BYTES = 2 * 1024 * 1024
_EVENTS_PER_MESSAGE = 500
_FRAMES_AHEAD = 16
_REPORT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "content_sha256",
    "channel",
    "reporter_kind",
    "received_at",
    "incident_at",
    "stated_country",
    "derived_country",
    "country_reason",
    "platform",
    "platform_category",
    "summary",
    "marking",
    "owner_agency_id",
    "created_at",
)

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class _Pending:
    """A valid line waiting for its batch to be written."""

    line: int
    text: str
    record: ReportIn
    source: str
    digest: str
    owner_id: int


class _Prepared(NamedTuple):
    """A valid line reduced to the plain values its rows need (cheap to send between processes).

    ``report`` holds the ``report`` columns from ``channel`` to ``marking`` in
    :data:`_REPORT_COLUMNS` order, enums as their string values.
    """

    line: int
    text: str
    source: str
    external_id: str
    digest: str
    owner_id: int
    report: tuple[Any, ...]
    offences: tuple[str, ...]
    flags: tuple[str, ...]
    media: tuple[tuple[Any, ...], ...]
    identifiers: tuple[tuple[str, str, str], ...]


def _prepare(item: _Pending) -> _Prepared:
    # ``_value_`` is the member's plain string: cheaper than ``.value`` (a
    # descriptor) and pickled as a string, not as an enum member.
    record = item.record
    country, reason = derive_country(record)
    return _Prepared(
        item.line,
        item.text,
        item.source,
        record.external_id,
        item.digest,
        item.owner_id,
        (
            record.channel._value_,
            record.reporter_kind._value_,
            record.received_at,
            record.incident_at,
            record.stated_country,
            country,
            reason._value_,
            record.platform,
            record.platform_category._value_,
            record.summary,
            record.marking._value_,
        ),
        tuple(offence._value_ for offence in record.offence_types),
        tuple(flag._value_ for flag in record.flags),
        tuple(
            (m.file_name, m.size_bytes, m.media_type, m.md5, m.sha1, m.sha256, m.pdq, m.pdq_quality)
            for m in record.media
        ),
        tuple((i.kind._value_, i.value, i.platform) for i in record.identifiers),
    )


class _Rejected(NamedTuple):
    line: int
    text: str
    errors: list[LineError]


class _Header(NamedTuple):
    text: str


class _Repeat(NamedTuple):
    """A line that repeats an earlier line of the same file unchanged."""

    line: int


@dataclass(frozen=True)
class LineError:
    """Why one line was rejected."""

    line: int
    field: str
    reason: str
    # Set when the line names an owner agency that does not exist, so that the
    # import can say once to create the agencies first.
    unknown_agency: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@dataclass
class ImportSummary:
    """What an import did.

    ``errors`` keeps the first :data:`MAX_ERRORS_KEPT` line errors and
    ``error_count`` counts them all; ``unknown_agencies`` holds (up to
    :data:`MAX_ERRORS_KEPT`) owner names that matched no agency, named by
    ``unknown_agency_lines`` lines.
    """

    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    unknown_agencies: set[str] = field(default_factory=set)
    unknown_agency_lines: int = 0
    written: bool = False
    rejects_path: Path | None = None
    new_report_ids: list[int] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        """True when invalid lines made the whole import roll back."""
        return self.rejected > 0 and not self.written


class ImportRefused(Exception):
    """The file has invalid lines and ``skip_invalid`` was not set; nothing was written."""

    def __init__(self, summary: ImportSummary) -> None:
        first = "; ".join(str(error) for error in summary.errors[:3])
        super().__init__(f"{summary.rejected} invalid line(s), nothing imported: {first}")
        self.summary = summary


def _errors_from_validation(line: int, error: ValidationError) -> list[LineError]:
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        if item["type"] == "identifier":
            location += ".value"
        found.append(LineError(line, location or "(record)", item["msg"]))
    return found


def validate_record(raw: RawRecord) -> ReportIn | list[LineError]:
    """The validated report of one raw line, or the reasons it is invalid."""
    if raw.error is not None:
        return [LineError(raw.line, raw.error.field, raw.error.reason)]
    assert raw.fields is not None
    try:
        return ReportIn.model_validate(raw.fields, context={"region": region_hint(raw.fields)})
    except ValidationError as error:
        return _errors_from_validation(raw.line, error)


def derive_country(record: ReportIn) -> tuple[str | None, CountryReason]:
    """The derived country of an imported record and why.

    A country given by the sender wins; otherwise the first phone number's
    country, then the stated country.
    """
    if record.derived_country:
        return record.derived_country, CountryReason.PROVIDED
    for identifier in record.identifiers:
        if identifier.kind is IdentifierKind.PHONE:
            country = phone_country(identifier.value)
            if country:
                return country, CountryReason.PHONE
    if record.stated_country:
        return record.stated_country, CountryReason.STATED
    return None, CountryReason.UNKNOWN


class _BatchWriter:
    """Writes batches of validated reports on one connection (one transaction)."""

    def __init__(
        self, connection: Connection, default_source: str, default_owner: int | None
    ) -> None:
        self.connection = connection
        self.default_source = default_source
        self.default_owner = default_owner
        self.agency_ids: dict[str, int] = {
            name: agency_id
            for agency_id, name in connection.execute(select(Agency.id, Agency.name))
        }
        self.identifier_ids: dict[tuple[str, str, str], int] = {}
        self._report_processors: (
            tuple[tuple[str, ...], list[Callable[[Any], Any] | None]] | None
        ) = None

    def owner_of(self, record: ReportIn) -> int | None:
        if record.owner_agency is not None:
            return self.agency_ids.get(record.owner_agency.strip())
        return self.default_owner

    def existing(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Content digests of the (source, external id) pairs already stored."""
        found: dict[tuple[str, str], str] = {}
        for source, external_ids in _group(keys).items():
            for start in range(0, len(external_ids), 900):
                rows = self.connection.execute(
                    select(Report.external_id, Report.content_sha256).where(
                        Report.source == source,
                        Report.external_id.in_(external_ids[start : start + 900]),
                    )
                )
                for external_id, digest in rows:
                    found[(source, external_id)] = digest
        return found

    def identifier_id_map(self, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        missing = [key for key in keys if key not in self.identifier_ids]
        by_kind_platform = _group([((kind, platform), value) for kind, value, platform in missing])
        for (kind, platform), values in by_kind_platform.items():
            for start in range(0, len(values), 900):
                rows = self.connection.execute(
                    select(Identifier.id, Identifier.value).where(
                        Identifier.kind == kind,
                        Identifier.platform == platform,
                        Identifier.value.in_(values[start : start + 900]),
                    )
                )
                for identifier_id, value in rows:
                    self.identifier_ids[(kind, value, platform)] = identifier_id
        new = [key for key in missing if key not in self.identifier_ids]
        if new:
            new_ids = self.allocate_ids("identifier", len(new))
            self._insert_many(
                Identifier.__table__,
                ("id", "kind", "value", "platform"),
                [(i, *key) for i, key in zip(new_ids, new, strict=True)],
            )
            self.identifier_ids.update(zip(new, new_ids, strict=True))
        # Bound the cache: a 2M-report import must not hold every identifier.
        if len(self.identifier_ids) > 500_000:
            self.identifier_ids = {key: self.identifier_ids[key] for key in keys}
        return self.identifier_ids

    def allocate_ids(self, table: str, count: int) -> list[int]:
        """Reserve ``count`` primary keys of ``table`` for rows inserted in bulk.

        Knowing the ids before inserting lets child rows be written with plain
        ``executemany`` (RETURNING would send one statement per row on SQLite).
        On SQLite the import holds the write lock from its first statement (see
        :meth:`lock`), so max(id) cannot move; on PostgreSQL the table's
        sequence hands out the ids.
        """
        if self.connection.dialect.name == "postgresql":
            rows = self.connection.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                f"FROM generate_series(1, {int(count)})"
            )
            return [row[0] for row in rows]
        top = self.connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar()
        return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))

    def bind_processors(self, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
        """SQLAlchemy's own value conversions for ``report`` columns on this dialect.

        Applying them once per value and sending rows straight to the driver
        stores exactly what an ORM insert would (e.g. SQLite's timestamp text),
        without SQLAlchemy's per-row statement overhead.
        """
        if self._report_processors is None or self._report_processors[0] != tuple(columns):
            dialect = self.connection.dialect
            table = Report.__table__
            self._report_processors = (
                tuple(columns),
                [table.c[column].type.bind_processor(dialect) for column in columns],
            )
        return self._report_processors[1]

    def lock(self) -> None:
        """On SQLite, take the write lock now so that no other writer interleaves."""
        if self.connection.dialect.name == "sqlite":
            self.connection.exec_driver_sql("DELETE FROM report WHERE 0")

    def _insert_many(self, table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        # Child rows hold only plain strings and numbers: sending them straight
        # to the driver skips SQLAlchemy's per-row parameter processing, which
        # costs more than the insert itself.
        if not rows:
            return
        cursor = self.connection.connection.cursor()
        try:
            if self.connection.dialect.name == "postgresql":
                # COPY is PostgreSQL's bulk path: one round trip per batch
                # instead of one statement per row.
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["?"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
                )
        finally:
            cursor.close()

    def write(self, batch: Sequence[_Pending]) -> list[int]:
        """Insert the reports of a batch; returns their ids in order."""
        return self.write_rows([_prepare(item) for item in batch])

    def _report_processors_for_rows(self) -> list[Callable[[Any], Any] | None]:
        # Enum columns already hold validated plain strings: no conversion.
        table = Report.__table__
        return [
            None if isinstance(table.c[column].type, StrEnumType) else process
            for column, process in zip(
                _REPORT_COLUMNS, self.bind_processors(_REPORT_COLUMNS), strict=True
            )
        ]

    def write_rows(self, batch: Sequence[_Prepared]) -> list[int]:
        """Insert prepared reports and their child rows; returns the report ids in order."""
        if not batch:
            return []
        created_at = utcnow()
        ids = self.allocate_ids("report", len(batch))
        processors = self._report_processors_for_rows()
        rows = [
            (
                report_id,
                item.source,
                item.external_id,
                item.digest,
                *item.report,
                item.owner_id,
                created_at,
            )
            for item, report_id in zip(batch, ids, strict=True)
        ]
        converting = [(index, process) for index, process in enumerate(processors) if process]
        if converting:
            converted = []
            for row in rows:
                values = list(row)
                for index, process in converting:
                    values[index] = process(values[index])
                converted.append(tuple(values))
            rows = converted
        self._insert_many(Report.__table__, _REPORT_COLUMNS, rows)
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
        identifier_ids = self.identifier_id_map(identifier_keys)
        for item, report_id in zip(batch, ids, strict=True):
            linked = {identifier_ids[key] for key in item.identifiers}
            links.extend((report_id, identifier_id) for identifier_id in sorted(linked))
        self._insert_many(ReportOffence.__table__, ("report_id", "offence_type"), offences)
        self._insert_many(ReportFlagRow.__table__, ("report_id", "flag"), flags)
        self._insert_many(MediaItem.__table__, _MEDIA_COLUMNS, media)
        self._insert_many(ReportIdentifier.__table__, ("report_id", "identifier_id"), links)
        return ids


def _group(pairs: Iterable[tuple[Any, str]]) -> dict[Any, list[str]]:
    grouped: dict[Any, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def _open_lines(path: Path, on_progress: ProgressCallback | None) -> Iterator[bytes]:
    with path.open("rb") as stream:
        for raw in stream:
            if on_progress is not None:
                on_progress(len(raw))
            yield raw


def read_records(
    path: Path, file_format: str, on_progress: ProgressCallback | None = None
) -> Iterator[RawRecord]:
    """The raw records of a report file in ``jsonl`` or ``csv`` format."""
    lines = readers.decoded_lines(_open_lines(path, on_progress))
    if file_format == "jsonl":
        return readers.read_jsonl(lines)
    if file_format == "csv":
        return readers.read_csv(lines)
    raise ValueError(f"format: expected jsonl or csv, got {file_format!r}")


@dataclass(frozen=True)
class _Owners:
    """How lines are given their owner and source: the agencies by name and the defaults."""

    agency_ids: dict[str, int]
    default_owner: int | None
    default_source: str


_Event = _Prepared | _Rejected | _Header | _Repeat


def _events(records: Iterable[RawRecord], owners: _Owners) -> Iterator[_Event]:
    """What each line of a file means for the import, in file order.

    Validation, owner lookup, the content digest and repeats within the file
    are settled here; what is already in the database is settled by the writer.
    """
    seen_in_file: dict[tuple[str, str], str] = {}
    for raw in records:
        if raw.is_header:
            yield _Header(raw.text)
            continue
        result = validate_record(raw)
        if isinstance(result, list):
            yield _Rejected(raw.line, raw.text, result)
            continue
        record_source = result.source or owners.default_source
        if result.owner_agency is not None:
            record_owner = owners.agency_ids.get(result.owner_agency.strip())
        else:
            record_owner = owners.default_owner
        if record_owner is None:
            reason = (
                f"no agency named {result.owner_agency!r}"
                if result.owner_agency
                else "no owning agency: name one in the line or pass --as AGENCY"
            )
            unknown = result.owner_agency.strip() if result.owner_agency else None
            error = LineError(raw.line, "owner_agency", reason, unknown)
            yield _Rejected(raw.line, raw.text, [error])
            continue
        digest = result.content_sha256()
        key = (record_source, result.external_id)
        earlier = seen_in_file.get(key)
        if earlier is not None:
            if earlier == digest:
                yield _Repeat(raw.line)
            else:
                reason = (
                    f"{result.external_id!r} appears earlier in the file with different content"
                )
                yield _Rejected(raw.line, raw.text, [LineError(raw.line, "external_id", reason)])
            continue
        if len(seen_in_file) < 5_000_000:
            seen_in_file[key] = digest
        yield _prepare(_Pending(raw.line, raw.text, result, record_source, digest, record_owner))


def _send(stdout: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.write(len(data).to_bytes(8, "little"))
    stdout.write(data)


def parse_in_child(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Body of the second process of a parallel import (``python -m veille.intake.parse_child``).

    Reads ``(path, file_format, owners)`` pickled on ``stdin`` and writes
    length-prefixed pickled messages on ``stdout``: ``(events, bytes_read)``
    in file order, then ``None``; a failure is sent as ``("error", text)``.
    """
    path, file_format, owners = pickle.load(stdin)
    read = 0

    def count(size: int) -> None:
        nonlocal read
        read += size

    try:
        batch: list[_Event] = []
        for event in _events(read_records(Path(path), file_format, count), owners):
            batch.append(event)
            if len(batch) >= _EVENTS_PER_MESSAGE:
                _send(stdout, (batch, read))
                batch, read = [], 0
        _send(stdout, (batch, read))
        _send(stdout, None)
    except Exception as error:  # reported to the parent, which raises
        _send(stdout, ("error", f"{type(error).__name__}: {error}"))
    stdout.flush()


def _read_frames(stream: IO[bytes], frames: queue.Queue[bytes | None]) -> None:
    """Move the child's messages off its pipe as soon as they are written.

    Without this the child blocks on a full pipe while the writer is busy
    with the database, and the two processes take turns instead of
    overlapping. Reading releases the GIL; unpickling stays with the caller.
    """
    try:
        while True:
            header = stream.read(8)
            if len(header) < 8:
                break
            data = stream.read(int.from_bytes(header, "little"))
            frames.put(data)
    finally:
        frames.put(None)


class ParseProcessError(RuntimeError):
    """The second process of a parallel import failed."""


def _events_from_child(
    path: Path, file_format: str, owners: _Owners, on_progress: ProgressCallback | None
) -> Iterator[_Event]:
    # A plain subprocess rather than multiprocessing: no fork of a process that
    # holds database connections and threads, and no re-import of the caller's
    # main module.
    package_root = str(Path(__file__).resolve().parents[2])
    search_path = os.environ.get("PYTHONPATH")
    child = subprocess.Popen(
        [sys.executable, "-m", "veille.intake.parse_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={
            **os.environ,
            "PYTHONPATH": package_root + (os.pathsep + search_path if search_path else ""),
        },
    )
    assert child.stdin is not None and child.stdout is not None
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=_FRAMES_AHEAD)
    reader = threading.Thread(
        target=_read_frames, args=(child.stdout, frames), name="veille-import-read", daemon=True
    )
    try:
        try:
            pickle.dump((str(path), file_format, owners), child.stdin)
            child.stdin.close()
        except BrokenPipeError:
            raise ParseProcessError(
                f"the parsing process did not start (exit code {child.wait()})"
            ) from None
        reader.start()
        while True:
            frame = frames.get()
            if frame is None:
                raise ParseProcessError(
                    f"the parsing process stopped unexpectedly (exit code {child.wait()})"
                )
            message = pickle.loads(frame)
            if message is None:
                break
            if message[0] == "error":
                raise ParseProcessError(f"parsing {path.name} failed: {message[1]}")
            events, read = message
            if on_progress is not None and read:
                on_progress(read)
            yield from events
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        if reader.ident is not None and reader.is_alive():
            # Unblock a reader waiting for room in the queue, then let it see EOF.
            while reader.is_alive():
                with contextlib.suppress(queue.Empty):
                    frames.get(timeout=0.1)
        child.stdout.close()


def _use_child(path: Path, parallel: bool | None) -> bool:
    if parallel is not None:
        return parallel
    if (os.cpu_count() or 1) < 2:
        return False
    try:
        return path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False


def import_reports(
    database: Database,
    path: Path,
    *,
    file_format: str | None = None,
    owner_agency: str | None = None,
    source: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    on_progress: ProgressCallback | None = None,
    actor: str | None = None,
    parallel: bool | None = None,
) -> ImportSummary:
    """Import a report file; see the module docstring for the rules.

    ``owner_agency`` owns lines that do not name one; ``source`` keys
    idempotency for lines that do not name one (default ``import:<owner>``).
    Raises :class:`ImportRefused` when lines are invalid and ``skip_invalid``
    is false.

    Files of :data:`PARALLEL_MIN_BYTES` or more are read, parsed and
    validated in a second process while this one writes to the database
    (``parallel`` forces the choice); the result is the same either way.
    """
    file_format = file_format or readers.detect_format(path)
    summary = ImportSummary()
    rejects: IO[str] | None = None
    if skip_invalid:
        rejects_path = rejects_path or path.with_name(path.stem + ".rejected" + path.suffix)
    pending: list[_Prepared] = []
    header: str | None = None
    try:
        with database.engine.begin() as connection:
            owner_id = None
            writer = _BatchWriter(connection, "", None)
            writer.lock()
            if owner_agency is not None:
                owner_id = writer.agency_ids.get(owner_agency)
                writer.default_owner = owner_id
                if owner_id is None:
                    raise ValueError(
                        f"--as: no agency named {owner_agency!r} (see 'veille agencies list')"
                    )
            owners = _Owners(
                dict(writer.agency_ids),
                owner_id,
                source or (f"import:{owner_agency}" if owner_agency else "import"),
            )

            def reject(line: int, text: str, errors: Iterable[LineError]) -> None:
                nonlocal rejects
                summary.rejected += 1
                unknown = False
                for error in errors:
                    summary.error_count += 1
                    if len(summary.errors) < MAX_ERRORS_KEPT:
                        summary.errors.append(error)
                    if error.unknown_agency is not None:
                        unknown = True
                        if len(summary.unknown_agencies) < MAX_ERRORS_KEPT:
                            summary.unknown_agencies.add(error.unknown_agency)
                summary.unknown_agency_lines += unknown
                if skip_invalid and rejects_path is not None:
                    if rejects is None:
                        rejects = rejects_path.open("w", encoding="utf-8", errors="surrogateescape")
                        if header is not None:
                            rejects.write(header)
                    rejects.write(text if text.endswith("\n") else text + "\n")

            def flush() -> None:
                if not pending:
                    return
                existing = writer.existing([(p.source, p.external_id) for p in pending])
                fresh = []
                for item in pending:
                    known = existing.get((item.source, item.external_id))
                    if known is None:
                        fresh.append(item)
                    elif known == item.digest:
                        summary.unchanged += 1
                    else:
                        reason = (
                            f"{item.external_id!r} from source {item.source!r} "
                            "was imported before with different content"
                        )
                        reject(item.line, item.text, [LineError(item.line, "external_id", reason)])
                pending.clear()
                if fresh and (skip_invalid or summary.rejected == 0):
                    summary.new_report_ids.extend(writer.write_rows(fresh))
                    summary.imported += len(fresh)

            if _use_child(path, parallel):
                events = _events_from_child(path, file_format, owners, on_progress)
            else:
                events = _events(read_records(path, file_format, on_progress), owners)
            for event in events:
                if type(event) is _Prepared:
                    pending.append(event)
                    if len(pending) >= BATCH_SIZE:
                        flush()
                elif type(event) is _Rejected:
                    reject(event.line, event.text, event.errors)
                elif type(event) is _Repeat:
                    summary.unchanged += 1
                elif type(event) is _Header:
                    header = event.text
            flush()
            if summary.rejected and not skip_invalid:
                summary.imported = 0
                summary.new_report_ids.clear()
                connection.rollback()
                raise ImportRefused(summary)
            connection.execute(
                insert(AuditEvent).values(
                    actor=actor or current_actor(),
                    agency_id=owner_id,
                    action="report.import",
                    object_type="file",
                    object_id=path.name[:200],
                    detail=f"imported {summary.imported}, unchanged {summary.unchanged}, rejected {summary.rejected}",
                    at=utcnow(),
                    success=True,
                )
            )
            summary.written = True
    finally:
        if rejects is not None:
            rejects.close()
    if rejects is not None:
        summary.rejects_path = rejects_path
    return summary
