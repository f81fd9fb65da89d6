"""Bulk import of report files (JSON Lines or CSV) into the store.

One pass over the file validates every line and writes valid reports in
batches inside a single transaction. If any line is invalid the transaction
is rolled back (nothing is written) unless ``skip_invalid`` is set, in which
case good lines are kept and bad lines go to a rejects file. Re-importing a
report with the same (source, external id) and the same content changes
nothing; the same key with different content is an error.

The parts: :mod:`~veille.intake.import_lines` (what each line means),
:mod:`~veille.intake.import_child` (parsing in a second process),
:mod:`~veille.intake.report_writer` (the rows, the same writer every
channel uses) and :mod:`~veille.intake.import_summary` (what it did).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, insert, select

from veille.intake import readers
from veille.intake.import_child import (
    PARALLEL_MIN_BYTES,
    ParseProcessError,
    events_from_child,
    parse_in_child,
    use_child,
)
from veille.intake.import_lines import (
    Header,
    LineError,
    Owners,
    ProgressCallback,
    Rejected,
    Repeat,
    events,
    read_records,
    validate_record,
)
from veille.intake.import_summary import (
    MAX_ERRORS_KEPT,
    ImportRefused,
    ImportSummary,
    RejectsFile,
)
from veille.intake.report_rows import PreparedReport, derive_country
from veille.intake.report_writer import ReportWriter, group
from veille.store.audit import current_actor
from veille.store.db import Database, PlannerStatistics
from veille.store.models import Agency, AuditEvent, Report
from veille.store.types import utcnow

__all__ = [
    "BATCH_SIZE",
    "MAX_ERRORS_KEPT",
    "PARALLEL_MIN_BYTES",
    "ImportRefused",
    "ImportSummary",
    "LineError",
    "ParseProcessError",
    "ProgressCallback",
    "derive_country",
    "import_reports",
    "parse_in_child",
    "read_records",
    "validate_record",
]

BATCH_SIZE = 2000


def _existing(
    connection: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Content digests of the (source, external id) pairs already stored."""
    found: dict[tuple[str, str], str] = {}
    for source, external_ids in group(keys).items():
        for start in range(0, len(external_ids), 900):
            rows = connection.execute(
                select(Report.external_id, Report.content_sha256).where(
                    Report.source == source,
                    Report.external_id.in_(external_ids[start : start + 900]),
                )
            )
            for external_id, digest in rows:
                found[(source, external_id)] = digest
    return found


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
    rejects: RejectsFile | None = None
    if skip_invalid:
        rejects = RejectsFile(rejects_path or path.with_name(path.stem + ".rejected" + path.suffix))
    pending: list[PreparedReport] = []
    try:
        with database.engine.begin() as connection:
            writer = ReportWriter(connection)
            writer.lock()
            agency_ids = {
                name: agency_id
                for agency_id, name in connection.execute(select(Agency.id, Agency.name))
            }
            owner_id = None
            if owner_agency is not None:
                owner_id = agency_ids.get(owner_agency)
                if owner_id is None:
                    raise ValueError(
                        f"--as: no agency named {owner_agency!r} (see 'veille agencies list')"
                    )
            owners = Owners(
                agency_ids,
                owner_id,
                source or (f"import:{owner_agency}" if owner_agency else "import"),
            )

            statistics = PlannerStatistics(database.dialect)

            def reject(line: int, text: str, errors: list[LineError]) -> None:
                summary.count_rejected(errors)
                if rejects is not None:
                    rejects.write(text)

            def flush() -> None:
                if not pending:
                    return
                existing = _existing(connection, [(p.source, p.external_id) for p in pending])
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
                    summary.new_report_ids.extend(writer.write(fresh))
                    summary.imported += len(fresh)
                    statistics.advance(len(fresh), connection)

            if use_child(path, parallel):
                lines = events_from_child(path, file_format, owners, on_progress)
            else:
                lines = events(read_records(path, file_format, on_progress), owners)
            for event in lines:
                if type(event) is PreparedReport:
                    pending.append(event)
                    if len(pending) >= BATCH_SIZE:
                        flush()
                elif type(event) is Rejected:
                    reject(event.line, event.text, event.errors)
                elif type(event) is Repeat:
                    summary.unchanged += 1
                elif type(event) is Header and rejects is not None:
                    rejects.header = event.text
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
    if rejects is not None and rejects.opened:
        summary.rejects_path = rejects.path
    return summary
