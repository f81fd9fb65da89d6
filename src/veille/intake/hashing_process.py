"""The media worker's child process: hashing (and matching) at the lowest CPU priority.

Decoding an image and computing PDQ costs more CPU than receiving the file
and storing its report; in a process of its own at nice 19 the operating
system gives requests precedence. The child ends soon after its parent,
however the parent ends, so a killed server leaves nothing running.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from veille.intake.media_hashing import PerceptualHash, hash_job, warm_up_hashing
from veille.intake.media_matching import match_in_turn
from veille.store.db import Database


def lower_cpu_priority(nice: int = 19) -> None:
    """Lower the calling process's CPU priority by ``nice`` (19: the lowest).

    Not Linux's ``SCHED_IDLE``: the worker already holds hashing back while
    requests keep arriving (see :meth:`MediaWorker._should_yield
    <veille.intake.worker.MediaWorker._should_yield>`), and the batch it
    still hashes then (one every ``max_pause_s``) keeps its job rows locked
    in an open transaction on PostgreSQL, which should end quickly. A
    process that gets a core only when nothing else wants one could hold that
    transaction for the whole peak, and an old open transaction keeps
    PostgreSQL from cleaning up the rows every request changes.
    """
    if nice:
        os.nice(nice)


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


def _start_low_priority(warm_up_dir: str, parent_pid: int, nice: int) -> None:
    die_with_parent(parent_pid)
    # When requests keep the cores busy, hashing waits; its backlog drains
    # once they leave CPU time free.
    lower_cpu_priority(nice)
    warm_up_hashing(Path(warm_up_dir))


_child_databases: dict[str, Database] = {}


def _match_in_child(url: str, report_ids: list[int]) -> list[int]:
    database = _child_databases.get(url)
    if database is None:
        from veille.store.db import open_database

        database = _child_databases[url] = open_database(url)
    return match_in_turn(database, report_ids)


class LowPriorityHasher:
    """Hashes files (and, on PostgreSQL, matches reports) in a child process on idle CPU time.

    Decoding an image and computing PDQ costs more CPU than receiving the
    file and storing its report. In a thread of the server they competed with
    the requests for the cores and for the interpreter lock; in a process of
    its own at the lowest priority the operating system gives requests
    precedence, and the worker thread only waits for results.
    """

    def __init__(self, warm_up_dir: Path, nice: int = 19) -> None:
        self._warm_up_dir = str(warm_up_dir)
        self._nice = nice
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # "spawn": forking a process that runs threads (the server) is unsafe.
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_low_priority,
            initargs=(self._warm_up_dir, os.getpid(), self._nice),
        )
        pool.submit(os.getpid)  # start the process (and its warm-up) now, not on the first file
        return pool

    def __call__(self, paths: Sequence[str]) -> list[PerceptualHash]:
        try:
            return list(self._pool.map(hash_job, paths))
        except BrokenProcessPool:
            self._restart()
            raise

    def match(self, url: str, report_ids: list[int]) -> list[int]:
        """Match ``report_ids`` in the child process, on the database at ``url``.

        Returns the other reports whose content evidence changed.
        """
        try:
            return self._pool.submit(_match_in_child, url, report_ids).result()
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
