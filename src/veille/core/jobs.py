"""The job system: durable tasks in the same database engine as the records (huey 3).

Background and scheduled work runs as tasks of one kept library, huey, whose
queue lives beside the records: ``SqliteHuey`` in a file next to the SQLite
database (huey's SQLite tables are named ``task``, ``kv``, ``schedule`` and
``counter``, with no prefix, and its ``begin exclusive`` on every enqueue
and dequeue would queue behind report writes), ``PostgresHuey`` in the same
PostgreSQL database and schema (tables ``huey_*``). Retries, priorities,
periodic schedules and the queue itself are huey's.

What huey does not do, this module adds, each on huey's own storage:

- **Work survives ``kill -9``.** huey deletes a task from its queue when a
  consumer takes it; a consumer killed mid-task would lose it. Each task
  that starts is recorded (``running:`` entries in huey's key-value table)
  and forgotten when it ends; a consumer starting on the same machine puts
  back the tasks of processes that no longer exist. Tasks must therefore be
  idempotent (every Veille task is).
- **Failed work stays visible** (``failed:`` entries) until retried.
- **Coalesced requests** (:meth:`JobSystem.request`): one pending run of a
  task serves every request made before it starts.
- **Exclusive sections** (:meth:`JobSystem.exclusive`) that a killed process
  cannot leave held: a PostgreSQL advisory lock, or an OS file lock beside
  the SQLite database. huey's own ``lock_task`` is a key-value row that a
  killed consumer leaves behind until someone flushes it.

This module knows no capability: tasks are declared (:class:`TaskSpec`) by
whoever owns them and handed to :class:`JobSystem`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from huey import PostgresHuey, SqliteHuey, crontab
from huey import signals as huey_signals
from huey.api import Huey, Task, TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import func, select

from veille.store.db import Database
from veille.store.sql import advisory_key

log = logging.getLogger(__name__)

QUEUE_NAME = "veille"
RUNNING = "running:"
FAILED = "failed:"
REQUESTED = "requested:"

PRIORITY_HIGH = 100
"""Work a person waits for (a report on its way to its queue)."""
PRIORITY_NORMAL = 50
PRIORITY_LOW = 0
"""Sweeps and rebuilds."""


@dataclass(frozen=True)
class TaskSpec:
    """A task a capability declares: ``run(database, *args)``, idempotent."""

    name: str
    run: Callable[..., Any]
    retries: int = 3
    retry_delay_s: int = 5
    priority: int = PRIORITY_NORMAL
    every_minutes: int | None = None
    """Run on this schedule too (a periodic task of every consumer), with no arguments: a
    divisor of 60 (minutes), a multiple of 60 dividing a day (hours) or whole days."""
    on_reports_stored: bool = False
    """Requested (coalesced, no arguments) whenever reports are stored (``veille.flow.reports_stored``)."""


def schedule_of(every_minutes: int) -> Any:
    """The huey schedule of a task run every ``every_minutes``.

    A crontab's minute field counts within the hour, so ``*/1440`` would run
    hourly: longer periods are written as hours of the day or days.
    """
    if every_minutes <= 0:
        raise ValueError(f"every_minutes: {every_minutes} is not a positive number of minutes")
    if every_minutes < 60 and 60 % every_minutes == 0:
        return crontab(minute=f"*/{every_minutes}")
    if every_minutes % 60 == 0 and every_minutes < 1440 and 1440 % every_minutes == 0:
        return crontab(minute="0", hour=f"*/{every_minutes // 60}")
    if every_minutes % 1440 == 0:
        return crontab(minute="0", hour="0", day=f"*/{every_minutes // 1440}")
    raise ValueError(
        f"every_minutes: {every_minutes} does not divide an hour or a day, nor is it whole days"
    )


@dataclass
class JobRecord:
    """One piece of work as ``veille jobs`` shows it."""

    state: str  # queued, scheduled, running, failed
    id: str
    task: str
    args: tuple[Any, ...] = ()
    at: datetime | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "id": self.id,
            "task": self.task,
            "args": _short(self.args),
            "at": self.at.isoformat() if self.at else None,
            "detail": self.detail,
        }


def _short(args: tuple[Any, ...]) -> str:
    shown = ", ".join(
        f"[{len(a)} ids]" if isinstance(a, list | tuple) and len(a) > 5 else repr(a) for a in args
    )
    return shown


def jobs_file_of(database: Database) -> Path:
    """SQLite: the file of the job queue, beside the database file."""
    name = database.engine.url.database
    if not name or name == ":memory:":
        raise ValueError("the job system needs a SQLite database file, not :memory:")
    path = Path(name)
    return path.with_name(f"{path.stem}-jobs.db")


def _postgres_connector(database: Database) -> Callable[[], Any]:
    """A callable opening psycopg with the database's own options (its ``search_path``)."""
    import psycopg

    url = database.engine.url
    query = dict(url.query)
    options = query.pop("options", None)
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    if options:
        params["options"] = options if isinstance(options, str) else options[0]
    params.update({key: value for key, value in query.items() if isinstance(value, str)})
    params = {key: value for key, value in params.items() if value is not None}

    def connect() -> Any:
        return psycopg.connect(**params)

    return connect


def build_huey(database: Database) -> Huey:
    """The huey instance whose queue lives with ``database``."""
    if database.dialect == "sqlite":
        return SqliteHuey(
            QUEUE_NAME, filename=str(jobs_file_of(database)), results=False, timeout=30
        )
    return PostgresHuey(
        QUEUE_NAME, connection=_postgres_connector(database), results=False, read_timeout=1
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _QuietConsumer(Consumer):
    """A consumer started inside another program (``veille serve``): its signals stay theirs."""

    def _set_signal_handlers(self) -> None:
        pass


@dataclass
class JobSystem:
    """huey on ``database`` with the tasks of ``specs`` registered."""

    database: Database
    specs: Sequence[TaskSpec]
    huey: Huey = field(init=False)
    tasks: dict[str, TaskWrapper] = field(init=False, default_factory=dict)
    _held: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.huey = build_huey(self.database)
        self.host = socket.gethostname()
        for spec in self.specs:
            self.tasks[spec.name] = self._register(spec)
        self.huey.signal(huey_signals.SIGNAL_EXECUTING)(self._started)
        self.huey.signal(
            huey_signals.SIGNAL_COMPLETE,
            huey_signals.SIGNAL_RETRYING,
            huey_signals.SIGNAL_CANCELED,
            huey_signals.SIGNAL_REVOKED,
            huey_signals.SIGNAL_EXPIRED,
            huey_signals.SIGNAL_LOCKED,
            huey_signals.SIGNAL_TIMEOUT,
        )(self._ended)
        self.huey.signal(huey_signals.SIGNAL_ERROR)(self._errored)

    def _register(self, spec: TaskSpec) -> TaskWrapper:
        database = self.database

        def run(*args: Any) -> None:
            spec.run(database, *args)

        run.__module__ = "veille.jobs"
        options: dict[str, Any] = {
            "retries": spec.retries,
            "retry_delay": spec.retry_delay_s,
            "priority": spec.priority,
            "name": spec.name,
        }
        if spec.every_minutes is not None:
            return self.huey.periodic_task(schedule_of(spec.every_minutes), **options)(run)
        return self.huey.task(**options)(run)

    # -- enqueueing -----------------------------------------------------------------

    def enqueue(self, name: str, *args: Any, delay_s: float | None = None) -> None:
        """Queue one run of task ``name`` with ``args``."""
        wrapper = self.tasks[name]
        if delay_s:
            wrapper.schedule(args=args, delay=delay_s)
        else:
            wrapper(*args)

    def request(self, name: str) -> bool:
        """Queue a run of task ``name`` unless one is queued and not started yet.

        One row written when nothing is pending, none otherwise (huey's
        ``put_if_empty``); the task calls :meth:`start_requested` first thing,
        so a request made after that queues the next run. Returns whether a
        run was queued.
        """
        if not self.huey.storage.put_if_empty(REQUESTED + name, b"1"):
            return False
        self.enqueue(name)
        return True

    def start_requested(self, name: str) -> None:
        """Called by a requested task as it starts: later requests queue another run."""
        self.huey.storage.pop_data(REQUESTED + name)

    # -- exclusive sections ---------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Run the body in one process and thread at a time, across every consumer.

        PostgreSQL: a session advisory lock (released by the server when the
        holder's connection dies), keyed by schema and name, so that two
        deployments in schemas of one database never wait on each other;
        SQLite: ``flock`` on a file beside the database (released by the
        kernel when the holder dies).
        """
        if self.database.dialect == "postgresql":
            with self.database.engine.connect() as connection:
                connection.execute(select(func.pg_advisory_lock(advisory_key(name))))
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(select(func.pg_advisory_unlock(advisory_key(name))))
                    connection.commit()
            return
        path = jobs_file_of(self.database).with_suffix(f".{name}.lock")
        with open(path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def hold(self, name: str) -> bool:
        """Take lock ``name`` for as long as this job system lives, if no other process has it.

        For work one process at a time may do on SQLite (hashing: its batches
        are marked, not row-locked): ``flock`` on a file beside the database,
        without waiting; the kernel releases it when the holder dies. Returns
        whether this process holds it. PostgreSQL needs no such lock (rows
        are claimed with ``SKIP LOCKED``): always true there.
        """
        if self.database.dialect == "postgresql" or name in self._held:
            return True
        handle = open(jobs_file_of(self.database).with_suffix(f".{name}.lock"), "a+b")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._held[name] = handle
        return True

    # -- what is running, what failed ----------------------------------------------

    def _running_key(self, task: Task) -> str:
        return f"{RUNNING}{self.host}:{os.getpid()}:{task.id}"

    def _started(self, _signal: str, task: Task, *_: Any) -> None:
        entry = {
            "data": self.huey.serialize_task(task),
            "priority": task.priority,
            "started": datetime.now(UTC),
            "name": task.name,
            "args": task.args,
            "thread": threading.current_thread().name,
        }
        self.huey.storage.put_data(self._running_key(task), pickle.dumps(entry))

    def _ended(self, _signal: str, task: Task, *_: Any) -> None:
        self.huey.storage.pop_data(self._running_key(task))

    def _errored(self, _signal: str, task: Task, error: BaseException | None = None) -> None:
        self._ended(_signal, task)
        if task.retries:  # huey retries it
            return
        entry = {
            "data": self.huey.serialize_task(task),
            "priority": task.priority,
            "failed": datetime.now(UTC),
            "name": task.name,
            "args": task.args,
            "error": f"{type(error).__name__}: {error}" if error is not None else "",
        }
        self.huey.storage.put_data(FAILED + task.id, pickle.dumps(entry))

    def _entries(self, prefix: str) -> dict[str, dict[str, Any]]:
        return {
            key: pickle.loads(value)
            for key, value in self.huey.storage.result_items().items()
            if key.startswith(prefix)
        }

    def recover_interrupted(self) -> int:
        """Queue again the tasks that processes of this machine left running when they died."""
        recovered = 0
        for key, entry in self._entries(f"{RUNNING}{self.host}:").items():
            pid = int(key.split(":")[2])
            if pid == os.getpid() or _pid_alive(pid):
                continue
            if self.huey.storage.pop_data(key) is not huey_empty():
                self.huey.storage.enqueue(entry["data"], entry["priority"])
                log.warning("task %s of dead process %d queued again", entry["name"], pid)
                recovered += 1
        return recovered

    def retry(self, task_id: str) -> bool:
        """Queue a failed task again (with its retries restored); False if no such failure."""
        value = self.huey.storage.pop_data(FAILED + task_id)
        if value is huey_empty():
            return False
        entry = pickle.loads(value)
        task = self.huey.deserialize_task(entry["data"])
        task.retries = self.tasks[task.name].retries if task.name in self.tasks else 0
        self.huey.enqueue(task)
        return True

    def listing(self, limit: int = 100) -> list[JobRecord]:
        """Queued, scheduled, running and failed work, in that order."""
        records: list[JobRecord] = []
        for task in self.huey.pending(limit):
            records.append(JobRecord("queued", task.id, task.name, tuple(task.args)))
        for task in self.huey.scheduled(limit):
            at = task.eta.replace(tzinfo=UTC) if task.eta else None
            records.append(JobRecord("scheduled", task.id, task.name, tuple(task.args), at))
        for key, entry in self._entries(RUNNING).items():
            _, host, pid, task_id = key.split(":", 3)
            alive = host != self.host or _pid_alive(int(pid))
            records.append(
                JobRecord(
                    "running" if alive else "interrupted",
                    task_id,
                    entry["name"],
                    tuple(entry["args"]),
                    entry["started"],
                    f"{host} pid {pid}",
                )
            )
        for key, entry in self._entries(FAILED).items():
            records.append(
                JobRecord(
                    "failed",
                    key[len(FAILED) :],
                    entry["name"],
                    tuple(entry["args"]),
                    entry["failed"],
                    entry["error"],
                )
            )
        return records

    # -- consumers ------------------------------------------------------------------

    def consumer(self, workers: int = 2, *, in_process: bool = False) -> Consumer:
        """A huey consumer of worker threads (``in_process``: leaves signal handling alone)."""
        self.recover_interrupted()
        kind = _QuietConsumer if in_process else Consumer
        return kind(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=True,
            initial_delay=0.05,
            max_delay=1.0,
            check_worker_health=not in_process,
        )

    def run_pending(self, limit: int = 10_000) -> int:
        """Run queued tasks in the calling thread until none is left (tests, the CLI)."""
        done = 0
        while done < limit:
            data = self.huey.storage.dequeue()
            if data is None:
                return done
            self.huey.execute(self.huey.deserialize_task(data))
            done += 1
        return done

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until nothing is queued or running (tests); False when ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.huey.pending_count() == 0 and not self._entries(RUNNING):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Close huey's storage connection and give up the locks :meth:`hold` took."""
        self.huey.storage.close()
        for handle in self._held.values():
            handle.close()
        self._held.clear()


def huey_empty() -> object:
    """huey's marker for "no value stored"."""
    from huey.constants import EmptyData

    return EmptyData
