"""Benchmark: concurrent ESP clients against ``veille serve`` on SQLite and PostgreSQL.

Each client loops over complete CyberTipline-style reports: submit, two
uploads of ~100 KB benign procedural JPEGs, two fileinfo documents, finish.
The server runs as a separate process (``veille serve``) with its in-process
media worker, as deployed. Measured: complete reports per second, p50/p99
latency per call, errors, and how fast the worker hashes the backlog of
uploaded files (during the load and after it stops).

    .venv/bin/python bench/intake.py --duration 25 --clients 16
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, write_result

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>
    <platform>BenchChat</platform>
    <incidentDateTime>2024-03-01T10:15:00Z</incidentDateTime>
  </incidentSummary>
  <internetDetails><chatImIncident><chatClient>BenchChat</chatClient></chatImIncident></internetDetails>
  <personOrUserReported>
    <screenName>bench_user_{n}</screenName>
    <ipCaptureEvent><ipAddress>198.51.100.{ip}</ipAddress><eventName>Upload</eventName></ipCaptureEvent>
  </personOrUserReported>
</report>"""
FILE_DETAILS = """<fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>
<originalFileName>IMG_{n}.jpg</originalFileName><fileAnnotations><viral/></fileAnnotations>
<industryClassification>B2</industryClassification>
<originalFileHash hashType="MD5">{md5}</originalFileHash></fileDetails>"""
CALLS = ("submit", "upload", "fileinfo", "finish")


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
        set_esp_credentials(session, "Bench ESP", "bench-esp", "bench-password")
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


class Load:
    """Counts and latencies gathered by the clients."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {call: [] for call in CALLS}
        self.reports = 0
        self.errors = 0
        self.error_samples: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(text[:300])


async def timed(load: Load, call: str, request: object) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response: httpx.Response = await request  # type: ignore[misc]
    except httpx.HTTPError as error:
        load.error(f"{call}: {type(error).__name__}: {error}")
        return None
    load.latencies[call].append(time.perf_counter() - started)
    if response.status_code != 200 or "<responseCode>0</responseCode>" not in response.text:
        load.error(f"{call}: HTTP {response.status_code} {response.text}")
        return None
    return response


def _value(text: str, element: str) -> str:
    found = re.search(rf"<{element}>([^<]*)</{element}>", text)
    return found.group(1) if found else ""


async def client_loop(
    number: int, base: str, images: list[bytes], deadline: float, load: Load
) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(b"bench-esp:bench-password").decode()}
    import hashlib

    async with httpx.AsyncClient(base_url=base + "/ispws", headers=auth, timeout=60) as http:
        sequence = 0
        while time.monotonic() < deadline:
            sequence += 1
            n = number * 1_000_000 + sequence
            submitted = await timed(
                load, "submit", http.post("/submit", content=REPORT.format(n=n, ip=n % 254 + 1))
            )
            if submitted is None:
                continue
            report_id = _value(submitted.text, "reportId")
            ok = True
            for index in range(2):
                image = images[(n * 2 + index) % len(images)]
                uploaded = await timed(
                    load,
                    "upload",
                    http.post(
                        "/upload",
                        data={"id": report_id},
                        files={"file": (f"f{index}.jpg", image, "image/jpeg")},
                    ),
                )
                if uploaded is None:
                    ok = False
                    break
                details = FILE_DETAILS.format(
                    report_id=report_id,
                    file_id=_value(uploaded.text, "fileId"),
                    n=n,
                    md5=hashlib.md5(image).hexdigest(),
                )
                if await timed(load, "fileinfo", http.post("/fileinfo", content=details)) is None:
                    ok = False
                    break
            if (
                ok
                and await timed(load, "finish", http.post("/finish", data={"id": report_id}))
                is not None
            ):
                load.reports += 1


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_engine(
    engine: str, duration_s: float, clients: int, server_workers: int, drain_timeout_s: float
) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix=f"veille-bench-intake-{engine}-"))
    schema = None
    if engine == "sqlite":
        url = f"sqlite:///{folder / 'veille.db'}"
    else:
        from sqlalchemy import create_engine, text

        schema = f"bench_intake_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    prepare_database(url)
    port = _free_port()
    env = {
        **os.environ,
        "VEILLE_DATABASE_URL": url,
        "VEILLE_DATA_DIR": str(folder),
        "VEILLE_WORKER_POLL_S": "0.2",
    }
    veille = str(Path(sys.executable).parent / "veille")
    server = subprocess.Popen(
        [
            veille,
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--workers",
            str(server_workers),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/ispws/xsd", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        images = [procedural_jpeg(seed) for seed in range(40)]
        # One authenticated call first: the server checks the password (scrypt) once and
        # remembers it; the measurement is of the steady state.
        auth = ("bench-esp", "bench-password")
        assert httpx.get(base + "/ispws/status", auth=auth, timeout=30).status_code == 200
        load = Load()
        started = time.monotonic()
        deadline = started + duration_s

        async def main() -> None:
            await asyncio.gather(
                *(client_loop(i, base, images, deadline, load) for i in range(clients))
            )

        asyncio.run(main())
        elapsed = time.monotonic() - started
        waiting_at_end, hashed_during = backlog(url)
        drain_started = time.monotonic()
        waiting = waiting_at_end
        while waiting and time.monotonic() - drain_started < drain_timeout_s:
            time.sleep(0.5)
            waiting, _ = backlog(url)
        drain_s = time.monotonic() - drain_started
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
        if schema is not None:
            from sqlalchemy import create_engine, text

            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    return {
        "engine": engine,
        "elapsed_s": elapsed,
        "reports": load.reports,
        "errors": load.errors,
        "error_samples": load.error_samples,
        "latencies": load.latencies,
        "hashed_during_load": hashed_during,
        "backlog_at_end": waiting_at_end,
        "drain_s": drain_s,
        "left_undrained": waiting,
        "image_kb": statistics.mean(len(i) for i in images) / 1024,
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=25.0, help="Seconds of load per engine.")
    parser.add_argument("--clients", type=int, default=16, help="Concurrent ESP clients.")
    parser.add_argument(
        "--engines",
        default="sqlite,postgresql,postgresql:2",
        help="Comma-separated; 'postgresql:2' serves with two processes.",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=180.0, help="Seconds to wait for the backlog."
    )
    parser.add_argument(
        "--server-workers", type=int, default=1, help="veille serve --workers (PostgreSQL)."
    )
    args = parser.parse_args()
    results = []
    for spec in args.engines.split(","):
        # "postgresql:2" runs the server with two processes.
        engine, _, count = spec.partition(":")
        workers = int(count) if count else (args.server_workers if engine == "postgresql" else 1)
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
        )
    rows = []
    for r in results:
        latencies: dict[str, list[float]] = r["latencies"]  # type: ignore[assignment]
        elapsed = float(r["elapsed_s"])  # type: ignore[arg-type]
        hashed = int(r["hashed_during_load"])  # type: ignore[call-overload]
        backlog_end = int(r["backlog_at_end"])  # type: ignore[call-overload]
        drain_s = float(r["drain_s"])  # type: ignore[arg-type]
        rows.append(
            [
                r["engine"],
                f"{elapsed:.0f}",
                r["reports"],
                f"{int(r['reports']) / elapsed:.1f}",  # type: ignore[call-overload]
                r["errors"],
                *(
                    f"{percentile(latencies[c], 0.5) * 1000:.0f} / {percentile(latencies[c], 0.99) * 1000:.0f}"
                    for c in CALLS
                ),
                f"{hashed / elapsed:.1f}",
                backlog_end,
                f"{backlog_end / drain_s:.1f}" if backlog_end and drain_s > 0 else "-",
                f"{float(r['load_average']):.1f}",  # type: ignore[arg-type]
            ]
        )
    table = markdown_table(
        [
            "engine",
            "load (s)",
            "complete reports",
            "reports/s",
            "errors",
            *(f"{c} p50/p99 (ms)" for c in CALLS),
            "files hashed/s during load",
            "backlog at end",
            "drain after load (files/s)",
            "machine load avg (1 min)",
        ],
        rows,
    )
    body = f"""
{args.clients} concurrent ESP clients (one asyncio process, httpx) against `veille serve`
(uvicorn; one process unless the engine column says otherwise) on the same machine, for {args.duration:.0f} s per engine. A complete report = submit + 2 uploads of
~{float(results[0]["image_kb"]):.0f} KB procedural JPEGs + 2 fileinfo + finish (6 calls). The media worker (PDQ
hashing and matching through `veille.media`) runs in a thread of the server process and
competes with the requests for the same two cores; files are discarded after hashing.

{table}

{machine_description(("fastapi", "uvicorn", "starlette", "httpx", "sqlalchemy", "psycopg", "pdqhash", "defusedxml"))}
"""
    path = write_result("intake", "Intake: CyberTipline-compatible ESP API under load", body)
    print(path.read_text())


if __name__ == "__main__":
    main()
