"""Benchmark: concurrent ESP clients against ``veille serve`` on SQLite and PostgreSQL.

Each client loops over complete CyberTipline-style reports: submit, two
uploads of ~100 KB benign procedural JPEGs, two fileinfo documents, finish.
The server runs as a separate process (``veille serve``) with its media
worker, as deployed. Measured: complete reports per second, p50/p99 latency
per call, errors, the CPU time spent per complete report by the server
(request handling), its low-priority hashing process, PostgreSQL and the
load generator itself, and how fast the worker hashes the backlog of
uploaded files (during the load and after it stops).

The clients speak plain HTTP/1.1 with keep-alive over asyncio streams, with
request bodies built in advance: the load generator shares the machine's
cores with the server, and a full HTTP client library would cost as much CPU
as the server itself. (The HTTP behaviour of the API is tested with httpx in
``tests/web``.)

Committed run (60 s of load per engine, as the issue asks):

    .venv/bin/python bench/intake.py --duration 60 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, percentile, write_result
from bench._server import (
    POSTGRES_URL,
    REPORT_OPENING,
    CpuSample,
    HttpError,
    KeepAliveConnection,
    basic_authorization,
    free_port,
    running_server,
    scratch_database,
)

APPLICATION_NAME = "veille-bench-intake"
USERNAME, PASSWORD = "bench-esp", "bench-password"
REPORT = (
    REPORT_OPENING
    + """  <internetDetails><chatImIncident><chatClient>BenchChat</chatClient></chatImIncident></internetDetails>
  <personOrUserReported>
    <screenName>bench_user_{n}</screenName>
    <ipCaptureEvent><ipAddress>198.51.100.{ip}</ipAddress><eventName>Upload</eventName></ipCaptureEvent>
  </personOrUserReported>
</report>"""
)
FILE_DETAILS = """<fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>
<originalFileName>IMG_{n}.jpg</originalFileName><fileAnnotations><viral/></fileAnnotations>
<industryClassification>B2</industryClassification>
<originalFileHash hashType="MD5">{md5}</originalFileHash></fileDetails>"""
CALLS = ("submit", "upload", "fileinfo", "finish")
BOUNDARY = "veille-bench-3f1c9a"


def procedural_jpeg(seed: int, size: int = 560, quality: int = 86) -> bytes:
    """A benign ~100 KB JPEG: coloured waves, rings and noise that differ with ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    fx, fy, phase = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.3)
    rings = np.sin(40 * np.hypot(x - rng.uniform(0.2, 0.8), y - rng.uniform(0.2, 0.8)) + phase)
    pixels = np.dstack(
        [
            127 + 120 * np.sin(2 * np.pi * fx * x + phase),
            127 + 120 * rings,
            127 + 120 * np.cos(2 * np.pi * fy * y),
        ]
    ) + rng.normal(0, 12, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def prepare_database(url: str) -> None:
    """Migrate and create the ESP agency with its login."""
    from veille.intake.credentials import set_esp_credentials
    from veille.store import migrate
    from veille.store.agencies import AgencySpec, add_agency
    from veille.store.db import Database, create_veille_engine
    from veille.vocab import AgencyKind

    database = Database(create_veille_engine(url))
    migrate.upgrade(database)
    with database.session() as session:
        add_agency(session, AgencySpec("Bench ESP", AgencyKind.ESP, "US"))
        set_esp_credentials(session, "Bench ESP", USERNAME, PASSWORD)
    database.dispose()


def backlog(url: str) -> tuple[int, int]:
    """(files waiting or being hashed, files hashed) in the media queue."""
    from sqlalchemy import func, select

    from veille.intake.models import MediaJob
    from veille.store.db import Database, create_veille_engine

    database = Database(create_veille_engine(url))
    with database.session() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(MediaJob)
            .where(MediaJob.state.in_(["pending", "running"]))
        )
        done = session.scalar(
            select(func.count()).select_from(MediaJob).where(MediaJob.state.in_(["done", "failed"]))
        )
    database.dispose()
    return int(waiting or 0), int(done or 0)


@dataclass
class Load:
    """Counts and latencies gathered by the clients."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})
    reports: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(text[:300])


@dataclass(frozen=True)
class UploadBody:
    """A multipart upload of one image, split so that only the id part changes."""

    head: bytes
    file_part: bytes
    md5: str

    @classmethod
    def of(cls, image: bytes, index: int) -> UploadBody:
        file_part = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="f{index}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + image
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="id"\r\n\r\n'.encode()
        return cls(head, file_part, hashlib.md5(image).hexdigest())


def _value(text: str, element: str) -> str:
    found = re.search(rf"<{element}>([^<]*)</{element}>", text)
    return found.group(1) if found else ""


Call = Callable[..., Awaitable[str | None]]
"""``call(name, path, content_type, *body)``: the answer's text, or ``None`` if it failed."""


async def send_complete_report(call: Call, uploads: list[UploadBody], n: int) -> str | None:
    """Submit report ``n``, upload two files with their details, finish; the report id if all went."""
    xml, form = "text/xml; charset=utf-8", "application/x-www-form-urlencoded"
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    submitted = await call(
        "submit", "/ispws/submit", xml, REPORT.format(n=n, ip=n % 254 + 1).encode()
    )
    if submitted is None:
        return None
    report_id = _value(submitted, "reportId")
    for index in range(2):
        upload = uploads[(n * 2 + index) % len(uploads)]
        uploaded = await call(
            "upload",
            "/ispws/upload",
            multipart,
            upload.head,
            f"{report_id}\r\n".encode(),
            upload.file_part,
        )
        if uploaded is None:
            return None
        details = FILE_DETAILS.format(
            report_id=report_id, file_id=_value(uploaded, "fileId"), n=n, md5=upload.md5
        ).encode()
        if await call("fileinfo", "/ispws/fileinfo", xml, details) is None:
            return None
    finished = await call("finish", "/ispws/finish", form, f"id={report_id}".encode())
    return report_id if finished is not None else None


async def client_loop(
    number: int, port: int, uploads: list[UploadBody], deadline: float, load: Load
) -> None:
    """Send complete reports until ``deadline`` (a ``time.monotonic`` value)."""
    connection = KeepAliveConnection(port, basic_authorization(USERNAME, PASSWORD))

    async def call(name: str, path: str, content_type: str, *body: bytes) -> str | None:
        started = time.perf_counter()
        try:
            status, text = await connection.request("POST", path, *body, content_type=content_type)
        except HttpError as error:
            load.error(f"{name}: {error}")
            return None
        load.latencies[name].append(time.perf_counter() - started)
        if status != 200 or "<responseCode>0</responseCode>" not in text:
            load.error(f"{name}: HTTP {status} {text}")
            return None
        return text

    sequence = 0
    try:
        while time.monotonic() < deadline:
            sequence += 1
            if await send_complete_report(call, uploads, number * 1_000_000 + sequence):
                load.reports += 1
    finally:
        connection.close()


def _checkpoint() -> None:
    """Flush what earlier runs wrote now, so that no checkpoint lands in this run's load."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CHECKPOINT"))
    admin.dispose()


def _drain(url: str, waiting: int, timeout_s: float) -> tuple[int, float]:
    """Wait for the worker to hash the backlog; (files left, seconds waited)."""
    started = time.monotonic()
    while waiting and time.monotonic() - started < timeout_s:
        time.sleep(0.5)
        waiting, _ = backlog(url)
    return waiting, time.monotonic() - started


def run_engine(
    engine: str, duration_s: float, clients: int, server_workers: int, drain_timeout_s: float
) -> dict[str, object]:
    with scratch_database(engine, "intake", APPLICATION_NAME) as database:
        prepare_database(database.url)
        if database.schema is not None:
            _checkpoint()
        port = free_port()
        with running_server(database, port, server_workers) as server:
            base = f"http://127.0.0.1:{port}"
            uploads = [UploadBody.of(procedural_jpeg(seed), seed % 2) for seed in range(40)]
            # Authenticated calls first: each server process checks the password (scrypt)
            # once and remembers it; the measurement is of the steady state.
            for _ in range(4 * server_workers):
                answer = httpx.get(base + "/ispws/status", auth=(USERNAME, PASSWORD))
                assert answer.status_code == 200
            time.sleep(2)  # let the hashing process finish warming up
            load = Load()
            cpu_before = CpuSample.take(server.pid, database.postgres_url, APPLICATION_NAME)
            started = time.monotonic()
            deadline = started + duration_s

            async def main() -> None:
                await asyncio.gather(
                    *(client_loop(i, port, uploads, deadline, load) for i in range(clients))
                )

            asyncio.run(main())
            elapsed = time.monotonic() - started
            cpu = CpuSample.take(server.pid, database.postgres_url, APPLICATION_NAME) - cpu_before
            load_average = os.getloadavg()[0]
            waiting_at_end, hashed_during = backlog(database.url)
            waiting, drain_s = _drain(database.url, waiting_at_end, drain_timeout_s)
    return {
        "engine": engine,
        "elapsed_s": elapsed,
        "reports": load.reports,
        "errors": load.errors,
        "error_samples": load.error_samples,
        "latencies": load.latencies,
        "cpu": cpu,
        "hashed_during_load": hashed_during,
        "backlog_at_end": waiting_at_end,
        "drain_s": drain_s,
        "left_undrained": waiting,
        "image_kb": sum(len(u.file_part) for u in uploads) / len(uploads) / 1024,
        "load_average": load_average,
    }


def _row(r: dict[str, object]) -> list[object]:
    latencies: dict[str, list[float]] = r["latencies"]  # type: ignore[assignment]
    elapsed = float(r["elapsed_s"])  # type: ignore[arg-type]
    reports = int(r["reports"])  # type: ignore[call-overload]
    hashed = int(r["hashed_during_load"])  # type: ignore[call-overload]
    backlog_end = int(r["backlog_at_end"])  # type: ignore[call-overload]
    drain_s = float(r["drain_s"])  # type: ignore[arg-type]
    cpu: CpuSample = r["cpu"]  # type: ignore[assignment]

    def per_report(seconds: float) -> str:
        return f"{seconds / reports * 1000:.1f}" if reports else "-"

    return [
        r["engine"],
        f"{elapsed:.0f}",
        reports,
        f"{reports / elapsed:.1f}",
        r["errors"],
        *(
            f"{percentile(latencies[c], 0.5) * 1000:.0f} / {percentile(latencies[c], 0.99) * 1000:.0f}"
            for c in CALLS
        ),
        per_report(cpu.server_s),
        per_report(cpu.postgres_s) if "postgres" in str(r["engine"]) else "-",
        per_report(cpu.client_s),
        per_report(cpu.background_s),
        f"{hashed / elapsed:.1f}",
        backlog_end,
        f"{(backlog_end - int(r['left_undrained'])) / drain_s:.1f}"  # type: ignore[call-overload]
        if backlog_end and drain_s > 0
        else "-",
        f"{float(r['load_average']):.1f}",  # type: ignore[arg-type]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load per engine.")
    parser.add_argument("--clients", type=int, default=16, help="Concurrent ESP clients.")
    parser.add_argument(
        "--engines",
        default="sqlite,postgresql,postgresql:2",
        help="Comma-separated; 'postgresql:2' serves with two processes.",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="Seconds to wait for the backlog."
    )
    parser.add_argument(
        "--rest",
        type=float,
        default=60.0,
        help="Seconds of rest between engines: on this machine the same work costs up to 15 %% "
        "more CPU time right after minutes of full load.",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="Print the table; do not write bench/results."
    )
    args = parser.parse_args()
    results = []
    for number, spec in enumerate(args.engines.split(",")):
        if number:
            time.sleep(args.rest)
        # "postgresql:2" runs the server with two processes.
        engine, _, count = spec.partition(":")
        workers = int(count) if count else 1
        result = run_engine(engine, args.duration, args.clients, workers, args.drain_timeout)
        result["engine"] = engine if workers == 1 else f"{engine}, {workers} server processes"
        results.append(result)
        print(
            result["engine"],
            result["reports"],
            "reports",
            result["errors"],
            "errors",
            result["error_samples"],
            flush=True,
        )
    table = markdown_table(
        [
            "engine",
            "load (s)",
            "complete reports",
            "reports/s",
            "errors",
            *(f"{c} p50/p99 (ms)" for c in CALLS),
            "server CPU ms/report",
            "PostgreSQL CPU ms/report",
            "load generator CPU ms/report",
            "hashing process CPU ms/report",
            "files hashed/s during load",
            "backlog at end",
            "drain after load (files/s)",
            "machine load avg (1 min)",
        ],
        [_row(r) for r in results],
    )
    body = f"""
{args.clients} concurrent ESP clients (one asyncio process, plain HTTP/1.1 keep-alive) against
`veille serve` (uvicorn; one process unless the engine column says otherwise) on the same
machine, for {args.duration:.0f} s per engine. A complete report = submit + 2 uploads of
~{float(results[0]["image_kb"]):.0f} KB procedural JPEGs + 2 fileinfo + finish (6 calls). The
media worker hashes (PDQ) in a separate process of the server at the lowest CPU priority and
matches through `veille.media`; files are discarded after hashing.

CPU columns are CPU seconds during the load divided by complete reports: the server's
processes (request handling and the worker thread), the PostgreSQL backends serving them (found
by their application_name), the load generator, and the low-priority process that hashes (and on
PostgreSQL matches).

{table}

{machine_description(("fastapi", "uvicorn", "starlette", "httptools", "uvloop", "sqlalchemy", "psycopg", "psycopg-pool", "pdqhash", "defusedxml"))}
"""
    if args.no_write:
        print(body)
        return
    path = write_result("intake", "Intake: CyberTipline-compatible ESP API under load", body)
    print(path.read_text())


if __name__ == "__main__":
    main()
