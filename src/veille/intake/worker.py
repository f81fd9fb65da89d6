"""The media worker: perceptual hashing and matching after a report is stored.

A provider's request returns as soon as its file is spooled and its MD5 and
SHA hashes are known; the slow part (decoding, PDQ, matching) happens here,
in a background thread of the web server (the embedded default). Jobs live in
``intake_media_job``, so a restart loses nothing. On PostgreSQL several
processes can share the queue (rows are claimed with ``SKIP LOCKED``).

A report's media state (``intake_report_media``) stays ``pending`` until
every file has been hashed and the report matched; only then is it
``matched``, so no page shows a report as unmatched while its files wait.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from veille.intake.models import MediaJob, ReportMediaState
from veille.intake.store import write_lock
from veille.intake.uploads import remove_quietly
from veille.store.db import Database
from veille.store.models import MediaItem
from veille.store.types import utcnow

log = logging.getLogger(__name__)

PENDING = "pending"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
MATCHING = "matching"
MATCHED = "matched"


@dataclass(frozen=True)
class PerceptualHash:
    """What the worker learns from a file."""

    pdq: str | None
    pdq_quality: int | None
    media_type: str | None
    error: str | None


def hash_media_file(path: Path) -> PerceptualHash:
    """PDQ (and the media type) of a spooled file, computed by ``veille.media``."""
    from veille.media import hash_file

    result = hash_file(path)
    media_type = result.media_type if result.media_type != "application/octet-stream" else None
    return PerceptualHash(result.pdq, result.pdq_quality, media_type, result.error)


def warm_up_hashing(folder: Path) -> None:
    """Hash one tiny image so that the hasher's compiled code is loaded before serving.

    The first PDQ hash loads compiled (numba) code and holds the interpreter
    for a few seconds; doing it at start-up keeps that pause out of request
    latencies.
    """
    import io

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warm-up.png"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    try:
        hash_media_file(path)
    finally:
        remove_quietly(path)


# PostgreSQL advisory-lock key ("VEILLE" in ASCII) that serialises matching across processes.
MATCH_LOCK_KEY = 0x564549_4C4C45


def _match(database: Database, report_ids: list[int]) -> None:
    from veille.media import match_reports

    if database.dialect != "postgresql":
        match_reports(database, report_ids)
        return
    # Matching refreshes content clusters that span reports; two server processes
    # matching at once collide on the same rows, so they take turns.
    with database.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MATCH_LOCK_KEY})
        try:
            match_reports(database, report_ids)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MATCH_LOCK_KEY})


def enqueue_media(
    session: Session, report_id: int, files: Sequence[tuple[int, str | None]]
) -> None:
    """Queue the spooled files of a new report; ``files`` pairs media item ids with paths.

    Media without a file (hashes given by the sender) still need matching, so
    a report with any media starts ``pending``.
    """
    if not files:
        return
    spooled = [(media_id, path) for media_id, path in files if path]
    for media_id, path in spooled:
        session.add(
            MediaJob(report_id=report_id, media_item_id=media_id, spool_path=path, state=PENDING)
        )
    session.add(
        ReportMediaState(
            report_id=report_id, state=PENDING, pending_files=len(spooled), updated_at=utcnow()
        )
    )


def media_state(session: Session, report_id: int) -> str:
    """``none`` (no media), ``pending`` (hashing or matching) or ``matched``."""
    state = session.scalar(
        select(ReportMediaState.state).where(ReportMediaState.report_id == report_id)
    )
    if state is None:
        return "none"
    return MATCHED if state == MATCHED else PENDING


class MediaWorker:
    """Processes media jobs until stopped; ``run_once`` serves tests and the CLI."""

    def __init__(
        self,
        database: Database,
        *,
        keep_files: bool = False,
        batch: int = 16,
        write_gate: threading.Lock | None = None,
    ) -> None:
        self.database = database
        # On SQLite the web server shares its writer lock so that the worker and
        # the requests queue in Python rather than in SQLite's busy handler.
        self.write_gate = write_gate or contextlib.nullcontext()
        self.keep_files = keep_files
        self.batch = batch
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hashed = 0
        self.matched_reports = 0

    def _claim(self) -> list[MediaJob]:
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            jobs = list(
                session.scalars(
                    select(MediaJob)
                    .where(MediaJob.state == PENDING)
                    .order_by(MediaJob.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for job in jobs:
                job.state = RUNNING
            return jobs

    def _hash(self, jobs: list[MediaJob]) -> None:
        results: list[tuple[MediaJob, PerceptualHash]] = []
        for job in jobs:
            try:
                result = hash_media_file(Path(job.spool_path))
            except Exception as error:  # one bad file must not stop the queue
                log.exception("hashing %s failed", job.spool_path)
                result = PerceptualHash(None, None, None, f"{type(error).__name__}: {error}")
            results.append((job, result))
        with self.write_gate, self.database.session() as session:
            for job, result in results:
                values: dict[str, Any] = {}
                if result.pdq:
                    values = {"pdq": result.pdq, "pdq_quality": result.pdq_quality}
                if result.media_type:
                    values["media_type"] = result.media_type
                if values:
                    session.execute(
                        update(MediaItem).where(MediaItem.id == job.media_item_id).values(**values)
                    )
                session.execute(
                    update(MediaJob)
                    .where(MediaJob.id == job.id)
                    .values(
                        state=FAILED if result.error else DONE, error=result.error, done_at=utcnow()
                    )
                )
                session.execute(
                    update(ReportMediaState)
                    .where(ReportMediaState.report_id == job.report_id)
                    .values(pending_files=ReportMediaState.pending_files - 1, updated_at=utcnow())
                )
        if not self.keep_files:
            for job, _ in results:
                remove_quietly(job.spool_path)
        self.hashed += len(results)

    def _set_state(self, report_ids: list[int], state: str) -> None:
        with self.write_gate, self.database.session() as session:
            session.execute(
                update(ReportMediaState)
                .where(ReportMediaState.report_id.in_(report_ids))
                .values(state=state, updated_at=utcnow())
            )

    def _match_ready(self) -> int:
        # Claim the reports first so that two server processes never match the same one.
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            ready = list(
                session.scalars(
                    select(ReportMediaState.report_id)
                    .where(ReportMediaState.state == PENDING, ReportMediaState.pending_files <= 0)
                    .order_by(ReportMediaState.report_id)
                    .limit(200)
                    .with_for_update(skip_locked=True)
                )
            )
            if ready:
                session.execute(
                    update(ReportMediaState)
                    .where(ReportMediaState.report_id.in_(ready))
                    .values(state=MATCHING, updated_at=utcnow())
                )
        if not ready:
            return 0
        try:
            _match(self.database, ready)
        except BaseException:
            self._set_state(ready, PENDING)
            raise
        self._set_state(ready, MATCHED)
        self.matched_reports += len(ready)
        return len(ready)

    def run_once(self) -> int:
        """Process one batch of files and match the reports that are ready; returns work done."""
        jobs = self._claim()
        if jobs:
            self._hash(jobs)
        return len(jobs) + self._match_ready()

    def drain(self) -> None:
        """Work until the queue is empty."""
        while self.run_once():
            pass

    def resume_interrupted(self) -> int:
        """Put back in the queue the work a stopped process left half-done (SQLite only).

        On SQLite one server process owns the queue, so anything ``running`` or
        ``matching`` when it starts was interrupted. On PostgreSQL other live
        processes may own such rows, so they are left alone.
        """
        if self.database.dialect != "sqlite":
            return 0
        with self.write_gate, self.database.session() as session:
            jobs = session.execute(
                update(MediaJob).where(MediaJob.state == RUNNING).values(state=PENDING)
            )
            reports = session.execute(
                update(ReportMediaState)
                .where(ReportMediaState.state == MATCHING)
                .values(state=PENDING)
            )
            return int(jobs.rowcount or 0) + int(reports.rowcount or 0)  # type: ignore[attr-defined]

    def start(self, poll_s: float = 0.5) -> None:
        """Run in a daemon thread, waking every ``poll_s`` seconds or when nudged."""
        self.resume_interrupted()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:  # keep serving; the error is logged
                    log.exception("media worker pass failed")
                    busy = 0
                if not busy:
                    self.wake.wait(poll_s)
                    self.wake.clear()

        self._thread = threading.Thread(target=loop, name="veille-media-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current pass."""
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
