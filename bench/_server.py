"""What the benchmarks that load a real ``veille serve`` share.

A throw-away database (SQLite file or PostgreSQL schema), the server process
and its start-up, a lean keep-alive HTTP/1.1 client, and the CPU time of the
server's process tree and of the PostgreSQL backends that serve it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
# What every benchmark report starts with; each adds its reported person and details.
REPORT_OPENING = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>
    <platform>BenchChat</platform>
    <incidentDateTime>2024-03-01T10:15:00Z</incidentDateTime>
  </incidentSummary>
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# --- a throw-away database and the server -------------------------------------------------


@dataclass(frozen=True)
class ScratchDatabase:
    """A fresh database for one run, and the folder the server keeps its files in."""

    folder: Path
    url: str
    schema: str | None

    @property
    def postgres_url(self) -> str | None:
        """The administrative URL on PostgreSQL, ``None`` on SQLite."""
        return None if self.schema is None else POSTGRES_URL


def _execute_admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(statement))
    admin.dispose()


@contextmanager
def scratch_database(engine: str, prefix: str, application_name: str) -> Iterator[ScratchDatabase]:
    """A temporary folder and an empty database in it (SQLite) or in a new schema (PostgreSQL).

    The PostgreSQL URL carries ``application_name`` so that the benchmark can
    find the backends serving its server among those of other jobs. Both are
    removed on exit.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"veille-bench-{prefix}-{engine}-"))
    schema = None
    try:
        if engine == "sqlite":
            url = f"sqlite:///{folder / 'veille.db'}"
        else:
            schema = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
            _execute_admin(f'CREATE SCHEMA "{schema}"')
            url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}&application_name={application_name}"
        yield ScratchDatabase(folder, url, schema)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if schema is not None:
            _execute_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _serve_command(source: str | None) -> list[str]:
    if source is None:
        return [str(Path(sys.executable).parent / "veille"), "serve"]
    # From another source tree: the installed ``veille`` script would import this checkout.
    launch = "import sys; from veille.cli import app; sys.argv[0] = 'veille'; app()"
    return [sys.executable, "-c", launch, "serve"]


def veille_environment(
    database: ScratchDatabase, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment ``veille serve`` (and ``veille worker``) run with on ``database``."""
    return {
        **os.environ,
        "VEILLE_DATABASE_URL": database.url,
        "VEILLE_DATA_DIR": str(database.folder),
        # The benchmarks measure the worker's pace, not how long it sleeps between polls.
        "VEILLE_WORKER_POLL_S": "0.2",
        **(extra or {}),
    }


@contextmanager
def running_server(
    database: ScratchDatabase,
    port: int,
    workers: int = 1,
    source: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``veille serve`` on ``database``, answering on ``port``; stopped on exit.

    ``source`` is a folder with another ``veille`` package (a src folder) to
    run instead of the installed one; ``extra_env`` adds or overrides settings
    (``VEILLE_JOBS_IN_SERVE=false``).
    """
    env = veille_environment(database, extra_env)
    if source is not None:
        env["PYTHONPATH"] = source
    command = [
        *_serve_command(source),
        *("--port", str(port), "--log-level", "warning", "--workers", str(workers)),
    ]
    # From the database folder when running other code: nothing in the working directory
    # may shadow the package under test.
    cwd = None if source is None else database.folder
    server = subprocess.Popen(command, env=env, cwd=cwd)
    try:
        _wait_until_answering(f"http://{HOST}:{port}")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def running_worker(
    database: ScratchDatabase, extra_env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``veille worker`` (a job-system consumer) on ``database``, as ``running_server`` starts
    ``veille serve``: same script, same environment plus ``extra_env``; stopped on exit.

    Its log (INFO, on stderr) goes to ``worker.log`` in the database folder.
    """
    command = [str(Path(sys.executable).parent / "veille"), "worker"]
    log = (database.folder / "worker.log").open("wb")
    worker = subprocess.Popen(command, env=veille_environment(database, extra_env), stderr=log)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


def _wait_until_answering(base: str, tries: int = 600) -> None:
    for _ in range(tries):
        try:
            if httpx.get(base + "/ispws/xsd", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


# --- CPU accounting from /proc ---------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as stream:
        return stream.read().rsplit(")", 1)[1].split()


def _cpu_s(fields: list[str]) -> float:
    """User + system CPU seconds of a process."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        found.append(parent)
        for children in Path("/proc").glob(f"{parent}/task/*/children"):
            try:
                queue.extend(int(c) for c in children.read_text().split())
            except OSError:
                continue
    return found


def _backend_cpu_s(postgres_url: str, application_name: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend that carries ``application_name``."""
    from sqlalchemy import create_engine, text

    backends = {}
    admin = create_engine(postgres_url)
    with admin.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name},
        ).scalars()
        for pid in pids:
            try:
                backends[pid] = _cpu_s(_stat(pid))
            except OSError:
                continue
    admin.dispose()
    return backends


@dataclass
class CpuSample:
    """CPU seconds so far of the server's processes, its PostgreSQL backends and this process."""

    server_s: float = 0.0
    background_s: float = 0.0
    postgres_s: float = 0.0
    client_s: float = 0.0
    backends: dict[int, float] = field(default_factory=dict)

    @classmethod
    def take(
        cls,
        server_pid: int,
        postgres_url: str | None,
        application_name: str,
        children_background: bool = False,
    ) -> CpuSample:
        """Sample now; the PostgreSQL backends only where ``postgres_url`` is given.

        Only the backends serving this server count (other jobs may use the same
        PostgreSQL): they carry ``application_name``. A process at a lowered
        priority (nice > 0, the hashing process) counts as background, and so does
        every child of ``server_pid`` with ``children_background`` (a worker whose
        only child hashes, whatever its priority).
        """
        sample = cls(client_s=time.process_time())
        for pid in _process_tree(server_pid):
            try:
                fields = _stat(pid)
            except OSError:
                continue
            if int(fields[16]) > 0 or (children_background and pid != server_pid):
                sample.background_s += _cpu_s(fields)
            else:
                sample.server_s += _cpu_s(fields)
        if postgres_url is not None:
            sample.backends = _backend_cpu_s(postgres_url, application_name)
            sample.postgres_s = sum(sample.backends.values())
        return sample

    @property
    def server_total_s(self) -> float:
        """All the server's processes, the low-priority one included."""
        return self.server_s + self.background_s

    def __sub__(self, other: CpuSample) -> CpuSample:
        # A backend that started during the load counts from zero.
        postgres_s = sum(s - other.backends.get(pid, 0.0) for pid, s in self.backends.items())
        return CpuSample(
            self.server_s - other.server_s,
            self.background_s - other.background_s,
            postgres_s,
            self.client_s - other.client_s,
        )


# --- a lean HTTP/1.1 client ------------------------------------------------------------------
# The load generators share the machine's cores with the server: a full HTTP client library
# would cost as much CPU as the server itself.


class HttpError(Exception):
    """The connection failed or the answer was not HTTP."""


def basic_authorization(username: str, password: str) -> str:
    """The value of an ``Authorization`` header for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class KeepAliveConnection:
    """One persistent HTTP/1.1 connection to the server on ``HOST``, from ``source`` if given.

    ``authorization`` may change between requests (one guess per request).
    """

    def __init__(self, port: int, authorization: str, source: str | None = None) -> None:
        self.port, self.source, self.authorization = port, source, authorization
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, *body: bytes, content_type: str | None = None
    ) -> tuple[int, str]:
        """Send one request, ``body`` parts as they are; returns (status, text)."""
        if self.writer is None:
            local_addr = None if self.source is None else (self.source, 0)
            self.reader, self.writer = await asyncio.open_connection(
                HOST, self.port, local_addr=local_addr
            )
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        head += f"Authorization: {self.authorization}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        if body:
            head += f"Content-Length: {sum(len(part) for part in body)}\r\n"
        try:
            self.writer.writelines([f"{head}\r\n".encode(), *body])
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" not in headers:
                raise HttpError(f"no Content-Length in answer: {status_line}")
            text = (await self.reader.readexactly(int(headers["content-length"]))).decode()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise HttpError(f"{type(error).__name__}: {error}") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1]), text

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
