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
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
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
    text,
    update,
)
from sqlalchemy.orm import Session

from veille.intake.models import MediaJob, ReportMediaState
from veille.intake.store import write_lock
from veille.intake.uploads import remove_quietly
from veille.store.db import Database
from veille.store.models import MediaItem
from veille.store.raw import pg_array, sql_constant
from veille.store.types import utcnow

log = logging.getLogger(__name__)

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


def _hash_job(path: str) -> PerceptualHash:
    """One file, with any failure reported in ``error`` (a bad file must not stop the queue)."""
    try:
        return hash_media_file(Path(path))
    except Exception as error:
        log.exception("hashing %s failed", path)
        return PerceptualHash(None, None, None, f"{type(error).__name__}: {error}")


Hasher = Callable[[Sequence[str]], list[PerceptualHash]]


def hash_in_thread(paths: Sequence[str]) -> list[PerceptualHash]:
    """Hash files in the calling thread (the CLI, tests, ``VEILLE_WORKER_HASH_PROCESS=false``)."""
    return [_hash_job(path) for path in paths]


def lower_cpu_priority() -> None:
    """Give the calling process the lowest CPU priority (nice 19).

    Not Linux's ``SCHED_IDLE``: the worker already holds hashing back while
    requests keep arriving (see :meth:`MediaWorker._should_yield`), and the
    batch it still hashes then (one every ``max_pause_s``) keeps its job rows
    locked in an open transaction on PostgreSQL, which should end quickly. A
    process that gets a core only when nothing else wants one could hold that
    transaction for the whole peak, and an old open transaction keeps
    PostgreSQL from cleaning up the rows every request changes.
    """
    os.nice(19)


def _watch_parent(parent_pid: int, check_every_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(check_every_s)
    os._exit(1)


def die_with_parent(parent_pid: int, check_every_s: float = 0.5) -> None:
    """End this process soon after ``parent_pid`` ends, however it ends (``kill -9`` included).

    A child left behind by a killed server held two PostgreSQL connections
    and went on hashing for nobody. When its parent dies a process is given
    to another parent, so a thread watches ``os.getppid()``. Linux's
    ``PR_SET_PDEATHSIG`` would be quicker, but it fires when the *thread*
    that started the child ends, and the hashing process is restarted from
    the media worker's thread.
    """
    if os.getppid() != parent_pid:  # the parent died before the child got here
        os._exit(1)
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid, check_every_s), name="veille-parent", daemon=True
    )
    watcher.start()


def _start_low_priority(warm_up_dir: str, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    # When requests keep the cores busy, hashing waits; its backlog drains
    # once they leave CPU time free.
    lower_cpu_priority()
    warm_up_hashing(Path(warm_up_dir))


_child_databases: dict[str, Database] = {}


def _match_in_child(url: str, report_ids: list[int]) -> None:
    database = _child_databases.get(url)
    if database is None:
        from veille.store.db import open_database

        database = _child_databases[url] = open_database(url)
    _match(database, report_ids)


class LowPriorityHasher:
    """Hashes files (and, on PostgreSQL, matches reports) in a child process on idle CPU time.

    Decoding an image and computing PDQ costs more CPU than receiving the
    file and storing its report, and matching refreshes content clusters
    across the whole database. In a thread of the server they competed with
    the requests for the cores and for the interpreter lock; in a process of
    its own at the lowest priority the operating system gives requests
    precedence, and the worker thread only waits for results.
    """

    def __init__(self, warm_up_dir: Path) -> None:
        self._warm_up_dir = str(warm_up_dir)
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # "spawn": forking a process that runs threads (the server) is unsafe.
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_low_priority,
            initargs=(self._warm_up_dir, os.getpid()),
        )
        pool.submit(os.getpid)  # start the process (and its warm-up) now, not on the first file
        return pool

    def __call__(self, paths: Sequence[str]) -> list[PerceptualHash]:
        try:
            return list(self._pool.map(_hash_job, paths))
        except BrokenProcessPool:
            self._restart()
            raise

    def match(self, url: str, report_ids: list[int]) -> None:
        """Match ``report_ids`` in the child process, on the database at ``url``."""
        try:
            self._pool.submit(_match_in_child, url, report_ids).result()
        except BrokenProcessPool:
            self._restart()
            raise

    def _restart(self) -> None:
        # The child died (killed, out of memory): start a new one. The caller
        # has put its files or reports back in the queue.
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def close(self) -> None:
        """Stop the child process."""
        self._pool.shutdown(wait=True, cancel_futures=True)


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


def _evidence_changed(database: Database, report_ids: list[int]) -> None:
    from veille.flow import evidence_changed

    evidence_changed(database, report_ids, "match")


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


class MediaWorker:
    """Processes media jobs until stopped; ``run_once`` serves tests and the CLI."""

    def __init__(
        self,
        database: Database,
        *,
        keep_files: bool = False,
        batch: int = 16,
        write_gate: threading.Lock | None = None,
        hasher: Hasher = hash_in_thread,
        matcher: Callable[[list[int]], None] | None = None,
        match_every_s: float = 5.0,
        busy: Callable[[], bool] | None = None,
        max_pause_s: float = 5.0,
        busy_match_every_s: float = 60.0,
        on_matched: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.database = database
        # Matched reports may have new evidence: the flow re-scores them (veille.flow).
        self.on_matched = on_matched or (lambda report_ids: _evidence_changed(database, report_ids))
        self.hasher = hasher
        self.matcher = matcher or (lambda report_ids: _match(database, report_ids))
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
        self.match_every_s = match_every_s
        self._matched_at = time.monotonic()
        # Whether the server is busy with requests; while it is, batches wait (up to
        # max_pause_s between two), so that hashing never competes with intake at peaks.
        self.busy = busy
        self.max_pause_s = max_pause_s
        # While busy, matching (the costly part: content clusters are refreshed over
        # the whole database, in a transaction of seconds) runs only this often.
        self.busy_match_every_s = busy_match_every_s
        self._worked_at = time.monotonic()

    def _lock_waiting(self, session: Session) -> list[MediaJob]:
        """The next batch of waiting files, locked; rows another process holds are skipped."""
        return list(
            session.scalars(
                select(MediaJob)
                .where(MediaJob.state == PENDING)
                .order_by(MediaJob.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
        )

    def _claim(self) -> list[MediaJob]:
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            jobs = self._lock_waiting(session)
            for job in jobs:
                job.state = RUNNING
            return jobs

    def _hash(self, jobs: list[MediaJob]) -> None:
        try:
            hashes = self.hasher([job.spool_path for job in jobs])
        except BaseException:
            self._requeue([job.id for job in jobs])
            raise
        with self.write_gate, self.database.session() as session:
            self._record(session, jobs, hashes)
        self._discard_files(jobs)

    def _hash_holding_locks(self) -> int:
        """PostgreSQL: hash a batch while its rows stay locked in one open transaction.

        The rows are never marked ``running``: other processes skip them
        because they are locked, and if this process dies its transaction
        ends, the locks go and the files are waiting again for any process.
        """
        with self.database.session() as session:
            jobs = self._lock_waiting(session)
            if not jobs:
                return 0
            self._record(session, jobs, self.hasher([job.spool_path for job in jobs]))
        self._discard_files(jobs)
        return len(jobs)

    def _record(self, session: Session, jobs: list[MediaJob], hashes: list[PerceptualHash]) -> None:
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

    def _discard_files(self, jobs: list[MediaJob]) -> None:
        if not self.keep_files:
            for job in jobs:
                remove_quietly(job.spool_path)
        self.hashed += len(jobs)

    def _requeue(self, job_ids: list[int]) -> None:
        with self.write_gate, self.database.session() as session:
            session.execute(update(MediaJob).where(MediaJob.id.in_(job_ids)).values(state=PENDING))

    def _set_state(self, report_ids: list[int], state: str) -> None:
        with self.write_gate, self.database.session() as session:
            session.execute(
                update(ReportMediaState)
                .where(ReportMediaState.report_id.in_(report_ids))
                .values(state=state, updated_at=utcnow())
            )

    def _ready_reports(self, session: Session) -> list[int]:
        return list(
            session.scalars(
                select(ReportMediaState.report_id)
                .where(ReportMediaState.state == PENDING, ReportMediaState.pending_files <= 0)
                .order_by(ReportMediaState.report_id)
                .limit(200)
                .with_for_update(skip_locked=True)
            )
        )

    def _match_holding_locks(self) -> int:
        """PostgreSQL: match ready reports while their state rows stay locked (see above)."""
        with self.database.session() as session:
            ready = self._ready_reports(session)
            if not ready:
                return 0
            self.matcher(ready)
            session.execute(
                update(ReportMediaState)
                .where(ReportMediaState.report_id.in_(ready))
                .values(state=MATCHED, updated_at=utcnow())
            )
        self.matched_reports += len(ready)
        self.on_matched(ready)
        return len(ready)

    def _match_ready(self) -> int:
        if self.database.dialect == "postgresql":
            return self._match_holding_locks()
        # Claim the reports first so that two server processes never match the same one.
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            ready = self._ready_reports(session)
            if ready:
                session.execute(
                    update(ReportMediaState)
                    .where(ReportMediaState.report_id.in_(ready))
                    .values(state=MATCHING, updated_at=utcnow())
                )
        if not ready:
            return 0
        try:
            self.matcher(ready)
        except BaseException:
            self._set_state(ready, PENDING)
            raise
        self._set_state(ready, MATCHED)
        self.matched_reports += len(ready)
        self.on_matched(ready)
        return len(ready)

    def run_once(self, *, match_every_s: float | None = None) -> int:
        """Process one batch of files and match the reports that are ready; returns work done.

        While files keep waiting, matching runs at most every ``match_every_s``
        (default: the worker's): each pass refreshes content clusters over the
        whole database, so one pass for many reports costs about what a pass
        for one report costs.
        """
        if self.database.dialect == "postgresql":
            hashed = self._hash_holding_locks()
        else:
            jobs = self._claim()
            if jobs:
                self._hash(jobs)
            hashed = len(jobs)
        matched = 0
        backlog = hashed == self.batch
        every = self.match_every_s if match_every_s is None else match_every_s
        since = time.monotonic() - self._matched_at
        if (not backlog and match_every_s is None) or since >= every:
            matched = self._match_ready()
            self._matched_at = time.monotonic()
        return hashed + matched

    def drain(self) -> None:
        """Work until the queue is empty."""
        while self.run_once():
            pass

    def resume_interrupted(self) -> int:
        """Put back in the queue the work a stopped process left half-done; returns how many rows.

        On SQLite one server process owns the queue, so anything ``running`` or
        ``matching`` when it starts was interrupted. On PostgreSQL work in
        progress is held by row locks, not marked, so a crashed process leaves
        nothing behind; rows still marked (by a version that marked them, or
        by SQLite-style work) are put back unless a live process has them locked.
        """
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            jobs = select(MediaJob.id).where(MediaJob.state == RUNNING)
            reports = select(ReportMediaState.report_id).where(ReportMediaState.state == MATCHING)
            if self.database.dialect == "postgresql":
                jobs = jobs.with_for_update(skip_locked=True)
                reports = reports.with_for_update(skip_locked=True)
            job_ids = list(session.scalars(jobs))
            report_ids = list(session.scalars(reports))
            if job_ids:
                session.execute(
                    update(MediaJob).where(MediaJob.id.in_(job_ids)).values(state=PENDING)
                )
            if report_ids:
                session.execute(
                    update(ReportMediaState)
                    .where(ReportMediaState.report_id.in_(report_ids))
                    .values(state=PENDING)
                )
            return len(job_ids) + len(report_ids)

    def _should_yield(self) -> bool:
        """Leave the CPU to requests: the server is busy and the last batch is recent."""
        if self.busy is None or time.monotonic() - self._worked_at >= self.max_pause_s:
            return False
        return self.busy()

    def start(self, poll_s: float = 0.5) -> None:
        """Run in a daemon thread, waking every ``poll_s`` seconds or when nudged."""
        self.resume_interrupted()

        def loop() -> None:
            while not self._stop.is_set():
                if self._should_yield():
                    self._stop.wait(min(poll_s, 0.05))
                    continue
                under_load = self.busy is not None and self.busy()
                try:
                    busy = self.run_once(
                        match_every_s=self.busy_match_every_s if under_load else None
                    )
                except Exception:  # keep serving; the error is logged
                    log.exception("media worker pass failed")
                    busy = 0
                self._worked_at = time.monotonic()
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
