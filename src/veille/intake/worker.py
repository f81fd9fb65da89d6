"""The media worker: perceptual hashing and matching after a report is stored.

A provider's request returns as soon as its file is spooled and its MD5 and
SHA hashes are known; the slow part (decoding, PDQ, matching) happens here,
in a background thread of the web server (the embedded default). This module
is the worker's loop: it takes batches from the queue
(:mod:`veille.intake.media_jobs`), hashes them (:mod:`veille.intake.media_hashing`,
in a low-priority process from :mod:`veille.intake.hashing_process`), matches
the reports that are ready (:mod:`veille.intake.media_matching`) and holds
back while the server is busy with requests.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection

from veille.intake.hashing_process import die_with_parent
from veille.intake.media_hashing import Hasher, hash_in_thread
from veille.intake.media_jobs import (
    MATCHED,
    MATCHING,
    PENDING,
    RUNNING,
    enqueue_media,
    lock_ready_reports,
    lock_waiting,
    media_state,
    record_hashes,
    requeue,
    resume_interrupted,
    set_report_state,
)
from veille.intake.media_matching import match_in_turn
from veille.intake.models import MediaJob
from veille.intake.store import write_lock
from veille.intake.uploads import remove_quietly
from veille.store.db import Database

# Importable from here for the callers that predate the split (channels, the REST API,
# the CLI, the import's parser process).
__all__ = ["MediaWorker", "die_with_parent", "enqueue_media", "media_state"]

log = logging.getLogger(__name__)


def _evidence_changed(database: Database, report_ids: list[int]) -> None:
    from veille.flow import evidence_changed

    evidence_changed(database, report_ids, "match")


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
        matcher: Callable[[list[int]], Collection[int] | None] | None = None,
        match_every_s: float = 5.0,
        busy: Callable[[], bool] | None = None,
        max_pause_s: float = 5.0,
        busy_match_every_s: float = 5.0,
        on_matched: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.database = database
        # Matched reports may have new evidence: the flow re-scores them (veille.flow).
        self.on_matched = on_matched or (lambda report_ids: _evidence_changed(database, report_ids))
        self.hasher = hasher
        self.matcher = matcher or (lambda report_ids: match_in_turn(database, report_ids))
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
        # While busy, matching runs only this often (many reports per pass).
        self.busy_match_every_s = busy_match_every_s
        self._worked_at = time.monotonic()

    def _claim(self) -> list[MediaJob]:
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            jobs = lock_waiting(session, self.batch)
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
            record_hashes(session, jobs, hashes)
        self._discard_files(jobs)

    def _hash_holding_locks(self) -> int:
        """PostgreSQL: hash a batch while its rows stay locked in one open transaction.

        The rows are never marked ``running``: other processes skip them
        because they are locked, and if this process dies its transaction
        ends, the locks go and the files are waiting again for any process.
        """
        with self.database.session() as session:
            jobs = lock_waiting(session, self.batch)
            if not jobs:
                return 0
            record_hashes(session, jobs, self.hasher([job.spool_path for job in jobs]))
        self._discard_files(jobs)
        return len(jobs)

    def _discard_files(self, jobs: list[MediaJob]) -> None:
        if not self.keep_files:
            for job in jobs:
                remove_quietly(job.spool_path)
        self.hashed += len(jobs)

    def _requeue(self, job_ids: list[int]) -> None:
        with self.write_gate, self.database.session() as session:
            requeue(session, job_ids)

    def _set_state(self, report_ids: list[int], state: str) -> None:
        with self.write_gate, self.database.session() as session:
            set_report_state(session, report_ids, state)

    def _match_holding_locks(self) -> int:
        """PostgreSQL: match ready reports while their state rows stay locked (see above)."""
        with self.database.session() as session:
            ready = lock_ready_reports(session)
            if not ready:
                return 0
            others = self.matcher(ready) or ()
            set_report_state(session, ready, MATCHED)
        self.matched_reports += len(ready)
        self.on_matched(sorted({*ready, *others}))
        return len(ready)

    def _match_ready(self) -> int:
        if self.database.dialect == "postgresql":
            return self._match_holding_locks()
        # Claim the reports first so that two server processes never match the same one.
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            ready = lock_ready_reports(session)
            if ready:
                set_report_state(session, ready, MATCHING)
        if not ready:
            return 0
        try:
            others = self.matcher(ready) or ()
        except BaseException:
            self._set_state(ready, PENDING)
            raise
        self._set_state(ready, MATCHED)
        self.matched_reports += len(ready)
        self.on_matched(sorted({*ready, *others}))
        return len(ready)

    def run_once(self, *, match_every_s: float | None = None) -> int:
        """Process one batch of files and match the reports that are ready; returns work done.

        While files keep waiting, matching runs at most every ``match_every_s``
        (default: the worker's), for many reports at a time: each pass has a
        fixed cost (a transaction, the lock, the index top-up) beside what
        grows with its reports.
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

        See :func:`veille.intake.media_jobs.resume_interrupted`.
        """
        with self.write_gate, self.database.session() as session:
            write_lock(session)
            return resume_interrupted(session, self.database.dialect)

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
