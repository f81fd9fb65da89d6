"""Intake's tasks of the job system: hashing and matching stored media (``media.work``).

The durable record of each file stays ``intake_media_job``
(:mod:`veille.intake.media_jobs`): written when a file is stored, claimed
row by row, resumed after a crash. ``media.work`` is what works it on the
job system: a run claims batches of waiting files, hashes them in the
low-priority hashing process (:class:`~veille.intake.hashing_process.LowPriorityHasher`),
matches the reports that are ready and hands them to the flow
(:func:`veille.flow.evidence_changed`), for at most :data:`RUN_FOR_S`; it then
requests itself again while files remain. It is requested when reports are
stored (:func:`veille.flow.reports_stored`, coalesced like the flow's first
step) and runs every minute as a sweep.

Who hashes:

- a ``veille serve`` whose in-process consumer is on (``VEILLE_JOBS_IN_SERVE``,
  the single-machine default) keeps its media worker thread
  (:class:`~veille.intake.worker.MediaWorker`), which yields to requests
  (``VEILLE_WORKER_QUIET_S``, ``VEILLE_WORKER_MIN_IDLE_CPU``,
  ``VEILLE_WORKER_MAX_PAUSE_S``); there the task only wakes that thread
  (:func:`attach_local_worker`);
- every other consumer (``veille worker``) hashes in the task itself, at
  full speed: it serves no request.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from veille.core.jobs import PRIORITY_HIGH, TaskSpec
from veille.intake.worker import MediaWorker
from veille.store.db import Database

log = logging.getLogger(__name__)

TASK = "media.work"
RUN_FOR_S = 20.0
"""A run works batches for at most this long, then requests the next run (other tasks interleave)."""

SWEEP_EVERY_MINUTES = 1

_local: dict[int, tuple[Database, MediaWorker | None]] = {}
_workers: dict[int, tuple[Database, MediaWorker]] = {}
_lock = threading.Lock()
_run_lock = threading.Lock()
_refused: set[int] = set()


def attach_local_worker(database: Database, worker: MediaWorker | None) -> None:
    """This process hashes with ``worker`` (``veille serve``'s thread), or not at all (None).

    ``media.work`` run by a consumer of this process then wakes ``worker``
    instead of hashing itself.
    """
    with _lock:
        _local[id(database)] = (database, worker)


def detach_local_worker(database: Database) -> None:
    """Undo :func:`attach_local_worker` (the server stops)."""
    with _lock:
        _local.pop(id(database), None)


def may_hash(database: Database) -> bool:
    """Whether this process may hash the files of ``database``.

    On SQLite one process at a time: a worker marks its batch ``running`` and
    one that starts puts such rows back in the queue, which is right only if
    no other process is working them. The first process to ask holds the
    lock (``veille serve``'s media worker, a ``veille worker``, ``veille intake
    work``) until it ends. PostgreSQL: every process may.
    """
    from veille.flow import job_system

    return job_system(database).hold("media")


def _task_worker(database: Database) -> MediaWorker | None:
    """This process's worker for the task (no yielding, low-priority hashing process),
    or None when another process hashes for this SQLite database."""
    with _lock:
        found = _workers.get(id(database))
        if found is not None and found[0] is database:
            return found[1]
        if not may_hash(database):
            if id(database) not in _refused:
                _refused.add(id(database))
                log.warning(
                    "another process hashes the files of this SQLite database; this one "
                    "leaves them to it (one media worker per SQLite database)"
                )
            return None
        from veille.intake.hashing_process import LowPriorityHasher
        from veille.intake.media_hashing import hash_in_thread
        from veille.intake.settings import IntakeSettings

        settings = IntakeSettings()
        hasher = (
            LowPriorityHasher(settings.resolved_spool_dir(), settings.worker_hash_nice)
            if settings.worker_hash_process
            else None
        )
        matcher = None
        if hasher is not None and database.dialect == "postgresql":
            url = database.engine.url.render_as_string(hide_password=False)
            matcher = partial(hasher.match, url)
        worker = MediaWorker(
            database,
            keep_files=settings.keep_files,
            hasher=hasher or hash_in_thread,
            matcher=matcher,
        )
        # Work a killed process of this kind left half-done (SQLite marks it).
        worker.resume_interrupted()
        _workers[id(database)] = (database, worker)
        return worker


def work_media(database: Database) -> int:
    """The body of ``media.work``: hash and match waiting files for a while; returns work done."""
    from veille.flow import job_system

    system = job_system(database)
    system.start_requested(TASK)
    with _lock:
        local = _local.get(id(database))
    if local is not None and local[0] is database:
        if local[1] is not None:
            local[1].wake.set()
        return 0
    done = 0
    # One run at a time in a process: its batches already take every waiting file. A
    # second run (the sweep beside a request) returns at once instead of holding a
    # consumer thread while the first works; the first requests the next run.
    if not _run_lock.acquire(blocking=False):
        return 0
    try:
        worker = _task_worker(database)
        if worker is None:
            return 0
        deadline = time.monotonic() + RUN_FOR_S
        while True:
            work = worker.run_once()
            done += work
            if not work:
                return done
            if time.monotonic() >= deadline:
                break
    finally:
        _run_lock.release()
    system.request(TASK)
    return done


def request_media_work(database: Database) -> None:
    """Ask the job system to work waiting files (a file added to a stored report)."""
    from veille.flow import job_system

    try:
        job_system(database).request(TASK)
    except Exception:
        log.exception("queueing media work failed; the sweep picks the files up")


TASKS = [
    TaskSpec(
        TASK,
        work_media,
        retries=5,
        retry_delay_s=5,
        # The flow's priority: huey always takes the highest first, so at a lower one
        # this task never ran while reports kept arriving (each stored report requests
        # flow.link); at the same one, tasks are taken in the order they were queued.
        priority=PRIORITY_HIGH,
        every_minutes=SWEEP_EVERY_MINUTES,
        on_reports_stored=True,
    )
]
"""``media.work``, requested when reports are stored and run every minute."""
