"""The queue of media jobs: one row per spooled file to hash, one state per report.

Jobs live in ``intake_media_job``, so a restart loses nothing. On
PostgreSQL several processes can share the queue (rows are claimed with
``SKIP LOCKED``). A report's media state (``intake_report_media``) stays
``pending`` until every file has been hashed and the report matched; only
then is it ``matched``, so no page shows a report as unmatched while its
files wait. The channels enqueue (:func:`enqueue_media`); the media worker
(:mod:`veille.intake.worker`) takes, records and resumes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    String,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from veille.intake.media_hashing import PerceptualHash
from veille.intake.models import MediaJob, ReportMediaState
from veille.store.models import MediaItem
from veille.store.raw import pg_array, sql_constant
from veille.store.types import utcnow

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
MATCHING = "matching"
MATCHED = "matched"


_MEDIA_ITEMS = cast(Table, MediaItem.__table__)
_JOBS = cast(Table, MediaJob.__table__)
_MEDIA_STATES = cast(Table, ReportMediaState.__table__)
# What a hashed file changes, as Core statements run once per batch (executemany).
# A file without a PDQ (a video, an unreadable image) keeps the hash it had.
_RECORD_MEDIA = (
    update(_MEDIA_ITEMS)
    .where(_MEDIA_ITEMS.c.id == bindparam("r_media_id"))
    .values(
        pdq=func.coalesce(bindparam("r_pdq", type_=String()), _MEDIA_ITEMS.c.pdq),
        pdq_quality=case(
            (bindparam("r_pdq", type_=String()).is_(None), _MEDIA_ITEMS.c.pdq_quality),
            else_=bindparam("r_quality", type_=Integer()),
        ),
        media_type=func.coalesce(bindparam("r_type", type_=String()), _MEDIA_ITEMS.c.media_type),
    )
)
_RECORD_JOB = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("r_job_id"))
    .values(state=bindparam("r_state"), error=bindparam("r_error"), done_at=bindparam("r_done_at"))
)
_RECORD_REPORT = (
    update(_MEDIA_STATES)
    .where(_MEDIA_STATES.c.report_id == bindparam("r_report_id"))
    .values(
        pending_files=_MEDIA_STATES.c.pending_files - bindparam("r_done", type_=Integer()),
        updated_at=bindparam("r_now"),
    )
)


def enqueue_media(
    connection: Connection | Session, report_id: int, files: Sequence[tuple[int, str | None]]
) -> None:
    """Queue the spooled files of a new report; ``files`` pairs media item ids with paths.

    Media without a file (hashes given by the sender) still need matching, so
    a report with any media starts ``pending``.
    """
    if not files:
        return
    now = utcnow()
    spooled = [(media_id, path) for media_id, path in files if path]
    if spooled:
        connection.execute(
            insert(cast(Table, MediaJob.__table__)),
            [
                {
                    "report_id": report_id,
                    "media_item_id": media_id,
                    "spool_path": path,
                    "state": PENDING,
                    "created_at": now,
                }
                for media_id, path in spooled
            ],
        )
    connection.execute(
        insert(cast(Table, ReportMediaState.__table__)),
        {
            "report_id": report_id,
            "state": PENDING,
            "pending_files": len(spooled),
            "updated_at": now,
        },
    )


def pg_enqueue_statements(report_id: Any, now: Any) -> tuple[Any, Any]:
    """PostgreSQL: what :func:`enqueue_media` writes, as two ``INSERT ... SELECT`` statements.

    For the ``WITH`` clause of a larger statement (ESP ``finish``);
    ``report_id`` and ``now`` are its expressions for the report and the
    time, and :func:`pg_enqueue_parameters` gives the rest.
    """
    jobs = (
        func.unnest(
            pg_array("e_media_ids", Integer),
            pg_array("e_paths"),
        )
        .table_valued("media_item_id", "spool_path")
        .render_derived()
    )
    add_jobs = insert(_JOBS).from_select(
        ["report_id", "media_item_id", "spool_path", "state", "created_at"],
        select(report_id, jobs.c.media_item_id, jobs.c.spool_path, sql_constant(PENDING), now),
    )
    add_state = insert(_MEDIA_STATES).from_select(
        ["report_id", "state", "pending_files", "updated_at"],
        select(
            report_id, sql_constant(PENDING), bindparam("e_pending", type_=Integer()), now
        ).where(bindparam("e_has_media", type_=Boolean())),
    )
    return add_jobs, add_state


def pg_enqueue_parameters(files: Sequence[tuple[int, str | None]]) -> dict[str, Any]:
    """The parameters of :func:`pg_enqueue_statements` for ``files`` (as for :func:`enqueue_media`)."""
    spooled = [(media_id, path) for media_id, path in files if path]
    return {
        "e_media_ids": [media_id for media_id, _ in spooled],
        "e_paths": [path for _, path in spooled],
        "e_pending": len(spooled),
        "e_has_media": bool(files),
    }


def media_state(session: Session, report_id: int) -> str:
    """``none`` (no media), ``pending`` (hashing or matching) or ``matched``."""
    state = session.scalar(
        select(ReportMediaState.state).where(ReportMediaState.report_id == report_id)
    )
    if state is None:
        return "none"
    return MATCHED if state == MATCHED else PENDING


def lock_waiting(session: Session, batch: int) -> list[MediaJob]:
    """The next ``batch`` waiting files, locked; rows another process holds are skipped."""
    return list(
        session.scalars(
            select(MediaJob)
            .where(MediaJob.state == PENDING)
            .order_by(MediaJob.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )


def record_hashes(session: Session, jobs: list[MediaJob], hashes: list[PerceptualHash]) -> None:
    """Store a batch's hashes: three statements, whatever the batch size."""
    now = utcnow()
    media = [
        {
            "r_media_id": job.media_item_id,
            "r_pdq": result.pdq,
            "r_quality": result.pdq_quality if result.pdq else None,
            "r_type": result.media_type,
        }
        for job, result in zip(jobs, hashes, strict=True)
        if result.pdq or result.media_type
    ]
    if media:
        session.connection().execute(_RECORD_MEDIA, media)
    session.connection().execute(
        _RECORD_JOB,
        [
            {
                "r_job_id": job.id,
                "r_state": FAILED if result.error else DONE,
                "r_error": result.error,
                "r_done_at": now,
            }
            for job, result in zip(jobs, hashes, strict=True)
        ],
    )
    # One update per report, in report order: two server processes recording
    # batches that share reports then lock those rows in the same order and
    # cannot deadlock (files of a report may sit in both batches).
    done_per_report = Counter(job.report_id for job in jobs)
    session.connection().execute(
        _RECORD_REPORT,
        [
            {"r_report_id": report_id, "r_done": done_per_report[report_id], "r_now": now}
            for report_id in sorted(done_per_report)
        ],
    )


def lock_ready_reports(session: Session) -> list[int]:
    """Up to 200 reports whose files are all hashed and that wait for matching, locked."""
    return list(
        session.scalars(
            select(ReportMediaState.report_id)
            .where(ReportMediaState.state == PENDING, ReportMediaState.pending_files <= 0)
            .order_by(ReportMediaState.report_id)
            .limit(200)
            .with_for_update(skip_locked=True)
        )
    )


def set_report_state(session: Session, report_ids: list[int], state: str) -> None:
    """Mark the media state of ``report_ids``."""
    session.execute(
        update(ReportMediaState)
        .where(ReportMediaState.report_id.in_(report_ids))
        .values(state=state, updated_at=utcnow())
    )


def requeue(session: Session, job_ids: list[int]) -> None:
    """Put files back in the queue (their hashing failed before it was recorded)."""
    session.execute(update(MediaJob).where(MediaJob.id.in_(job_ids)).values(state=PENDING))


def resume_interrupted(session: Session, dialect: str) -> int:
    """Put back in the queue the work a stopped process left half-done; returns how many rows.

    On SQLite one server process owns the queue, so anything ``running`` or
    ``matching`` when it starts was interrupted. On PostgreSQL work in
    progress is held by row locks, not marked, so a crashed process leaves
    nothing behind; rows still marked (by a version that marked them, or
    by SQLite-style work) are put back unless a live process has them locked.
    """
    jobs = select(MediaJob.id).where(MediaJob.state == RUNNING)
    reports = select(ReportMediaState.report_id).where(ReportMediaState.state == MATCHING)
    if dialect == "postgresql":
        jobs = jobs.with_for_update(skip_locked=True)
        reports = reports.with_for_update(skip_locked=True)
    job_ids = list(session.scalars(jobs))
    report_ids = list(session.scalars(reports))
    if job_ids:
        session.execute(update(MediaJob).where(MediaJob.id.in_(job_ids)).values(state=PENDING))
    if report_ids:
        session.execute(
            update(ReportMediaState)
            .where(ReportMediaState.report_id.in_(report_ids))
            .values(state=PENDING)
        )
    return len(job_ids) + len(report_ids)
