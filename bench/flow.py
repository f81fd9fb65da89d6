"""Benchmark: the whole flow, from ESP intake to the agency's queue, on PostgreSQL.

One ``veille serve`` process (``VEILLE_JOBS_IN_SERVE=false``: no job-system
consumer and no media worker in it) and one ``veille worker`` process (the
job-system consumer: ``media.work`` hashes in its low-priority child process
and matches, then the flow's ``link`` and ``score`` steps), on a fresh
PostgreSQL schema each phase. ESP clients submit complete reports (submit, 2 uploads of ~100 KB
procedural JPEGs, 2 fileinfo, finish; the client logic of ``bench/intake.py``).

A report is *fully processed* when its files are hashed and matched
(``intake_report_media.state = 'matched'``), it is linked (a ``report_cluster``
row), scored (``triage_score``) and in its agency's queue
(``triage_queue_item``).

Phases:

1. ``e2e``: clients as fast as they go (or ``--rate``) for ``--duration`` s;
   reports fully processed per second over the steady part of the load, the
   backlog sampled over time, CPU per process; then up to ``--drain-timeout``
   s without load, to see what the backlog costs and how fast it drains;
2. ``latency``: rate-limited clients at about half the end-to-end throughput
   of phase 1 (or ``--half-rate``); time from the acknowledged ``finish`` to
   the report being fully processed (polled every 0.5 s), p50 / p95;
3. ``intake``: the same clients, no consumer and no ``veille worker``
   (intake alone, as ``bench/intake.py``), for ``--intake-duration`` s.

After each phase the database is checked: every acknowledged report is there
once, with its two files.

    .venv/bin/python bench/flow.py --duration 120
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, percentile, write_result
from bench._server import (
    POSTGRES_URL,
    CpuSample,
    HttpError,
    KeepAliveConnection,
    ScratchDatabase,
    basic_authorization,
    free_port,
    running_server,
    running_worker,
    scratch_database,
)
from bench.intake import (
    PASSWORD,
    USERNAME,
    UploadBody,
    _checkpoint,
    prepare_database,
    procedural_jpeg,
    send_complete_report,
)

SERVER_APP = "veille-bench-flow-serve"
WORKER_APP = "veille-bench-flow-worker"
MONITOR_APP = "veille-bench-flow-monitor"
NO_CONSUMER = {"VEILLE_JOBS_IN_SERVE": "false"}

_DONE_JOIN = """
    JOIN intake_report_media m ON m.report_id = q.report_id AND m.state = 'matched'
    JOIN report_cluster c ON c.report_id = q.report_id
    JOIN triage_score s ON s.report_id = q.report_id"""
SAMPLE = f"""SELECT
    (SELECT count(*) FROM report) AS stored,
    (SELECT count(*) FROM intake_media_job WHERE state IN ('pending', 'running')) AS files_waiting,
    (SELECT count(*) FROM intake_media_job WHERE state IN ('done', 'failed')) AS files_hashed,
    (SELECT count(*) FROM intake_report_media WHERE state = 'matched') AS matched,
    (SELECT count(*) FROM report_cluster) AS linked,
    (SELECT count(*) FROM triage_score) AS scored,
    (SELECT count(*) FROM triage_queue_item) AS queued,
    (SELECT count(*) FROM triage_queue_item q {_DONE_JOIN}) AS done"""
# huey creates its tables when a process first opens the queue.
JOBS_WAITING = ", (SELECT count(*) FROM huey_task) AS jobs_waiting"
# Per acknowledged ESP report id: in its queue, and fully processed.
PROGRESS = """SELECT e.id, q.report_id IS NOT NULL,
    q.report_id IS NOT NULL AND m.state = 'matched' AND c.report_id IS NOT NULL
    AND s.report_id IS NOT NULL
FROM intake_esp_report e
LEFT JOIN triage_queue_item q ON q.report_id = e.report_id
LEFT JOIN intake_report_media m ON m.report_id = e.report_id
LEFT JOIN report_cluster c ON c.report_id = e.report_id
LEFT JOIN triage_score s ON s.report_id = e.report_id
WHERE e.id = ANY(:ids) AND e.report_id IS NOT NULL"""


def _url(database: ScratchDatabase, application_name: str) -> str:
    return (
        f"{POSTGRES_URL}?options=-csearch_path%3D{database.schema}"
        f"&application_name={application_name}"
    )


class Monitor:
    """Read-only queries on the scratch schema, on a connection of its own (not counted)."""

    def __init__(self, database: ScratchDatabase) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(_url(database, MONITOR_APP), pool_size=1)

    def sample(self) -> dict[str, int]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            huey = connection.execute(text("SELECT to_regclass('huey_task')")).scalar()
            row = connection.execute(text(SAMPLE + (JOBS_WAITING if huey else ""))).mappings()
            counts = {key: int(value) for key, value in row.one().items()}
        counts.setdefault("jobs_waiting", 0)
        return counts

    def progress(self, esp_ids: list[int]) -> list[tuple[int, bool, bool]]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            rows = connection.execute(text(PROGRESS), {"ids": esp_ids}).all()
        return [(int(r[0]), bool(r[1]), bool(r[2])) for r in rows]

    def check(self, acknowledged: list[int]) -> dict[str, int]:
        """Every acknowledged ESP report is one finished report with its two files."""
        from sqlalchemy import text

        queries = {
            "acknowledged": "SELECT cardinality(CAST(:ids AS integer[]))",
            "finished with a report": """SELECT count(*) FROM intake_esp_report e
                JOIN report r ON r.id = e.report_id
                WHERE e.id = ANY(:ids) AND e.state = 'finished'""",
            "distinct reports": """SELECT count(DISTINCT e.report_id) FROM intake_esp_report e
                WHERE e.id = ANY(:ids)""",
            "without 2 files": """SELECT count(*) FROM (
                SELECT e.id, count(mi.id) AS files FROM intake_esp_report e
                LEFT JOIN media_item mi ON mi.report_id = e.report_id
                WHERE e.id = ANY(:ids) GROUP BY e.id) AS x WHERE files <> 2""",
            "without 2 media jobs": """SELECT count(*) FROM (
                SELECT e.id, count(j.id) AS jobs FROM intake_esp_report e
                LEFT JOIN intake_media_job j ON j.report_id = e.report_id
                WHERE e.id = ANY(:ids) GROUP BY e.id) AS x WHERE jobs <> 2""",
            "reports stored twice": """SELECT count(*) - count(DISTINCT (source, external_id))
                FROM report""",
            "reports not acknowledged": """SELECT count(*) FROM report r WHERE NOT EXISTS (
                SELECT 1 FROM intake_esp_report e WHERE e.report_id = r.id
                AND e.id = ANY(:ids))""",
        }
        with self.engine.connect() as connection:
            return {
                name: int(connection.execute(text(sql), {"ids": acknowledged}).scalar() or 0)
                for name, sql in queries.items()
            }

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Clients:
    """Counts and finish times gathered by the clients."""

    finished_at: dict[int, float] = field(default_factory=dict)  # ESP report id -> time.time()
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(text[:300])


async def client_loop(
    number: int,
    port: int,
    uploads: list[UploadBody],
    deadline: float,
    clients: Clients,
    next_start: Callable[[], float] | None,
) -> None:
    """Send complete reports until ``deadline``; each at ``next_start()`` when rate-limited."""
    connection = KeepAliveConnection(port, basic_authorization(USERNAME, PASSWORD))

    async def call(name: str, path: str, content_type: str, *body: bytes) -> str | None:
        # A rate-limited client may idle longer than the server keeps a connection open
        # (uvicorn: 5 s); a request on a connection the server closed fails at once, and is
        # sent again on a new one.
        reused = connection.writer is not None
        try:
            status, text = await connection.request("POST", path, *body, content_type=content_type)
        except HttpError as error:
            if not reused:
                clients.error(f"{name}: {error}")
                return None
            try:
                status, text = await connection.request(
                    "POST", path, *body, content_type=content_type
                )
            except HttpError as again:
                clients.error(f"{name}: {again}")
                return None
        if status != 200 or "<responseCode>0</responseCode>" not in text:
            clients.error(f"{name}: HTTP {status} {text}")
            return None
        return text

    try:
        for sequence in itertools.count(1):
            if next_start is not None:
                at = next_start()
                if at >= deadline:
                    break
                await asyncio.sleep(max(0.0, at - time.monotonic()))
            elif time.monotonic() >= deadline:
                break
            report_id = await send_complete_report(call, uploads, number * 1_000_000 + sequence)
            if report_id:
                clients.finished_at[int(report_id)] = time.time()
    finally:
        connection.close()


def run_clients(
    clients: Clients,
    port: int,
    uploads: list[UploadBody],
    count: int,
    duration_s: float,
    rate: float | None,
) -> Clients:
    """``count`` clients for ``duration_s``, gathering into ``clients``; at most ``rate``
    reports started per second."""
    started = time.monotonic()
    deadline = started + duration_s
    slots = itertools.count()

    def next_start() -> float:
        assert rate is not None
        return started + next(slots) / rate

    async def main() -> None:
        await asyncio.gather(
            *(
                client_loop(i, port, uploads, deadline, clients, next_start if rate else None)
                for i in range(count)
            )
        )

    asyncio.run(main())
    return clients


class Sampler(threading.Thread):
    """Samples the pipeline's counts every ``every_s`` seconds, in a thread."""

    def __init__(self, monitor: Monitor, every_s: float) -> None:
        super().__init__(daemon=True)
        self.monitor, self.every_s = monitor, every_s
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.stop = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self.started_at, self.monitor.sample()))
            if self.stop.wait(self.every_s):
                return


class Poller(threading.Thread):
    """Polls which acknowledged reports are queued / fully processed, every ``every_s``."""

    def __init__(self, monitor: Monitor, clients: Clients, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.monitor, self.clients, self.every_s = monitor, clients, every_s
        self.queued_at: dict[int, float] = {}
        self.done_at: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.poll()

    def poll(self) -> int:
        """Poll once; returns how many acknowledged reports are not fully processed yet."""
        # A copy: the clients add finish times in another thread.
        waiting = [i for i in self.clients.finished_at.copy() if i not in self.done_at]
        if waiting:
            now = time.time()
            for esp_id, queued, done in self.monitor.progress(waiting):
                if queued:
                    self.queued_at.setdefault(esp_id, now)
                if done:
                    self.done_at[esp_id] = now
        return len(waiting) - sum(1 for i in waiting if i in self.done_at)


def _warm_up(port: int) -> None:
    # Each server process checks the password (scrypt) once and remembers it.
    for _ in range(4):
        answer = httpx.get(f"http://127.0.0.1:{port}/ispws/status", auth=(USERNAME, PASSWORD))
        assert answer.status_code == 200
    time.sleep(2)  # let the hashing process finish warming up


@dataclass
class Cpu:
    """CPU seconds of the processes, between two samples."""

    server: float
    hashing: float
    worker: float
    pg_server: float
    pg_worker: float
    client: float

    @classmethod
    def between(
        cls, before: tuple[CpuSample, CpuSample], after: tuple[CpuSample, CpuSample]
    ) -> Cpu:
        server, worker = after[0] - before[0], after[1] - before[1]
        # Low-priority (nice > 0) processes hash: the worker's child, or serve's when its
        # consumer is on.
        return cls(
            server.server_s,
            server.background_s + worker.background_s,
            worker.server_s,
            server.postgres_s,
            worker.postgres_s,
            server.client_s,
        )

    @property
    def total(self) -> float:
        return self.server + self.hashing + self.worker + self.pg_server + self.pg_worker


def _cpu(server_pid: int, worker_pid: int | None) -> tuple[CpuSample, CpuSample]:
    server = CpuSample.take(server_pid, POSTGRES_URL, SERVER_APP)
    worker = (
        CpuSample.take(worker_pid, POSTGRES_URL, WORKER_APP, children_background=True)
        if worker_pid is not None
        else CpuSample()
    )
    return server, worker


def _worker_errors(database: ScratchDatabase) -> int:
    log = database.folder / "worker.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "Traceback" in line)


def run_phase(
    name: str,
    args: argparse.Namespace,
    uploads: list[UploadBody],
    *,
    with_worker: bool,
    duration_s: float,
    clients_count: int,
    rate: float | None,
    drain_s: float,
) -> dict[str, Any]:
    """One phase on a fresh schema; the figures of the table."""
    with scratch_database("postgresql", f"flow_{name}", SERVER_APP) as database:
        prepare_database(database.url)
        _checkpoint()
        port = free_port()
        with running_server(database, port, extra_env=NO_CONSUMER) as server:
            worker_context = (
                running_worker(
                    database,
                    {
                        **NO_CONSUMER,
                        "VEILLE_DATABASE_URL": _url(database, WORKER_APP),
                        "VEILLE_WORKER_HASH_NICE": str(args.hash_nice),
                    },
                )
                if with_worker
                else None
            )
            worker = worker_context.__enter__() if worker_context else None
            try:
                _warm_up(port)
                monitor = Monitor(database)
                sampler = Sampler(monitor, args.sample_every)
                clients = Clients()
                poller = Poller(monitor, clients) if name == "latency" else None
                cpu_start = _cpu(server.pid, worker.pid if worker else None)
                sampler.start()
                if poller:
                    poller.start()
                load_average_before = os.getloadavg()[0]
                started = time.monotonic()
                # The poller reads the clients' finish times as they come.
                result_clients = run_clients(
                    clients, port, uploads, clients_count, duration_s, rate
                )
                load_s = time.monotonic() - started
                cpu_load = _cpu(server.pid, worker.pid if worker else None)
                load_average = os.getloadavg()[0]
                at_load_end = monitor.sample()
                drain_started = time.monotonic()
                while drain_s and time.monotonic() - drain_started < drain_s:
                    if poller is not None:
                        if poller.poll() == 0:
                            break
                    else:
                        now = monitor.sample()
                        if now["done"] >= len(result_clients.finished_at):
                            break
                    time.sleep(0.5)
                drained_s = time.monotonic() - drain_started
                cpu_drain = _cpu(server.pid, worker.pid if worker else None)
                sampler.stop.set()
                sampler.join()
                if poller:
                    poller.stop.set()
                    poller.join()
                at_end = monitor.sample()
                check = monitor.check(sorted(result_clients.finished_at))
                monitor.close()
            finally:
                if worker_context is not None:
                    worker_context.__exit__(None, None, None)
            worker_errors = _worker_errors(database)
    return {
        "phase": name,
        "clients": clients_count,
        "rate": rate,
        "load_s": load_s,
        "acknowledged": len(result_clients.finished_at),
        "errors": result_clients.errors,
        "error_samples": result_clients.error_samples,
        "samples": sampler.samples,
        "at_load_end": at_load_end,
        "drained_s": drained_s,
        "at_end": at_end,
        "cpu_load": Cpu.between(cpu_start, cpu_load),
        "cpu_drain": Cpu.between(cpu_load, cpu_drain),
        "check": check,
        "load_average_before": load_average_before,
        "load_average": load_average,
        "worker_tracebacks": worker_errors,
        "latency": _latencies(poller, result_clients) if poller else None,
    }


def _latencies(poller: Poller, clients: Clients) -> dict[str, Any]:
    done = [poller.done_at[i] - t for i, t in clients.finished_at.items() if i in poller.done_at]
    queued = [
        poller.queued_at[i] - t for i, t in clients.finished_at.items() if i in poller.queued_at
    ]
    return {"done": done, "queued": queued, "not_done": len(clients.finished_at) - len(done)}


def steady_rate(samples: list[tuple[float, dict[str, int]]], load_s: float, key: str) -> float:
    """``key`` per second between the first sample after a quarter of the load and the last
    sample within it."""
    inside = [(t, s) for t, s in samples if load_s * 0.25 <= t <= load_s + 0.01]
    if len(inside) < 2:
        return float("nan")
    (t0, s0), (t1, s1) = inside[0], inside[-1]
    return (s1[key] - s0[key]) / (t1 - t0) if t1 > t0 else float("nan")


def backlog_trace(samples: list[tuple[float, dict[str, int]]], load_s: float) -> str:
    """Reports stored but not fully processed, and files waiting, at each quarter of the load."""
    points = []
    for quarter in (0.25, 0.5, 0.75, 1.0):
        target = load_s * quarter
        t, s = min(samples, key=lambda ts: abs(ts[0] - target))
        points.append(f"{t:.0f} s: {s['stored'] - s['done']} ({s['files_waiting']} files)")
    return "; ".join(points)


def _ms(seconds: float, count: int) -> str:
    return f"{seconds / count * 1000:.1f}" if count else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="Seconds of load (e2e).")
    parser.add_argument("--clients", type=int, default=16, help="Concurrent ESP clients (e2e).")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="e2e: reports started per second (0: unlimited)."
    )
    parser.add_argument(
        "--half-rate",
        type=float,
        default=0.0,
        help="latency: reports per second (0: half the e2e throughput measured).",
    )
    parser.add_argument("--latency-clients", type=int, default=8)
    parser.add_argument("--latency-duration", type=float, default=0.0, help="0: --duration.")
    parser.add_argument("--intake-duration", type=float, default=60.0)
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="Seconds to wait after each load."
    )
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--rest", type=float, default=30.0, help="Seconds between phases.")
    parser.add_argument(
        "--phases",
        default="e2e,latency,intake",
        help="Comma-separated; NAME@RATE runs e2e or latency at RATE reports/s.",
    )
    parser.add_argument(
        "--hash-nice",
        type=int,
        default=19,
        help="VEILLE_WORKER_HASH_NICE of the veille worker's hashing process (19: lowest).",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # Stopped by a signal (even when started in the background, which ignores SIGINT): the
    # server, the worker and the scratch schema are still cleaned up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    command = "python bench/flow.py " + " ".join(sys.argv[1:])
    uploads = [UploadBody.of(procedural_jpeg(seed), seed % 2) for seed in range(40)]
    phases = args.phases.split(",")
    results: dict[str, dict[str, Any]] = {}
    for number, spec in enumerate(phases):
        if number:
            time.sleep(args.rest)
        # "e2e@60", "latency@30": that phase at a fixed rate of reports started per second.
        phase, _, given_rate = spec.partition("@")
        if phase == "e2e":
            result = run_phase(
                "e2e",
                args,
                uploads,
                with_worker=True,
                duration_s=args.duration,
                clients_count=args.clients,
                rate=float(given_rate or args.rate) or None,
                drain_s=args.drain_timeout,
            )
        elif phase == "latency":
            rate = float(given_rate or args.half_rate)
            if not rate:
                # Half the best end-to-end throughput measured so far in this run.
                measured = [
                    steady_rate(r["samples"], r["load_s"], "done")
                    for r in results.values()
                    if r["phase"] == "e2e"
                ]
                rate = max(0.5, round(max(measured, default=0.0) / 2, 1))
            result = run_phase(
                "latency",
                args,
                uploads,
                with_worker=True,
                duration_s=args.latency_duration or args.duration,
                clients_count=args.latency_clients,
                rate=rate,
                drain_s=args.drain_timeout,
            )
        else:
            result = run_phase(
                "intake",
                args,
                uploads,
                with_worker=False,
                duration_s=args.intake_duration,
                clients_count=args.clients,
                rate=None,
                drain_s=0.0,
            )
        results[spec] = result
        print(_summary(result), flush=True)
    body = report(results, args, command)
    if args.no_write:
        print(body)
        return
    path = write_result("flow", "Flow: ESP intake to the agency's queue (PostgreSQL)", body)
    print(path.read_text())


def _summary(r: dict[str, Any]) -> str:
    acknowledged, load_s = r["acknowledged"], r["load_s"]
    line = (
        f"{r['phase']}: {acknowledged} acknowledged in {load_s:.0f} s "
        f"({acknowledged / load_s:.1f}/s), {r['errors']} errors {r['error_samples']}; "
        f"done/s steady {steady_rate(r['samples'], load_s, 'done'):.2f}; "
        f"at load end {r['at_load_end']}; after {r['drained_s']:.0f} s {r['at_end']}; "
        f"check {r['check']}; worker tracebacks {r['worker_tracebacks']}; "
        f"load avg {r['load_average_before']:.1f} -> {r['load_average']:.1f}"
    )
    if r["latency"]:
        lat = r["latency"]
        line += (
            f"; latency done p50 {percentile(lat['done'], 0.5):.2f} "
            f"p95 {percentile(lat['done'], 0.95):.2f} max {max(lat['done'], default=0):.2f}, "
            f"queued p50 {percentile(lat['queued'], 0.5):.2f} "
            f"p95 {percentile(lat['queued'], 0.95):.2f}, not done {lat['not_done']}"
        )
    return line


def _check_text(check: dict[str, int]) -> str:
    ok = (
        check["finished with a report"] == check["acknowledged"]
        and check["distinct reports"] == check["acknowledged"]
        and check["without 2 files"] == 0
        and check["without 2 media jobs"] == 0
        and check["reports stored twice"] == 0
    )
    verdict = "ok" if ok else "FAILED"
    return (
        f"{verdict}: {check['finished with a report']} of {check['acknowledged']} acknowledged "
        f"stored once ({check['distinct reports']} distinct), {check['without 2 files']} without "
        f"their 2 files, {check['reports stored twice']} duplicates, "
        f"{check['reports not acknowledged']} stored but not acknowledged"
    )


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, command: str) -> str:
    rows = []
    for r in results.values():
        load_s, acknowledged = r["load_s"], r["acknowledged"]
        end, final = r["at_load_end"], r["at_end"]
        latency = r["latency"]
        rate = f"{r['rate']:g}/s" if r["rate"] else "unlimited"
        rows.append(
            [
                r["phase"],
                f"{r['clients']} ({rate})",
                f"{load_s:.0f}",
                f"{acknowledged} ({acknowledged / load_s:.1f}/s)",
                r["errors"],
                f"{steady_rate(r['samples'], load_s, 'done'):.1f}"
                if r["phase"] != "intake"
                else "-",
                backlog_trace(r["samples"], load_s) if r["phase"] != "intake" else "-",
                (
                    f"{percentile(latency['done'], 0.5):.1f} / {percentile(latency['done'], 0.95):.1f}"
                    f" ({percentile(latency['queued'], 0.5):.1f} / "
                    f"{percentile(latency['queued'], 0.95):.1f})"
                    if latency
                    else "-"
                ),
                f"{end['files_waiting']}",
                (
                    f"{final['files_waiting']} files, {final['stored'] - final['done']} reports "
                    f"after {r['drained_s']:.0f} s"
                    if r["phase"] != "intake"
                    else "-"
                ),
                _check_text(r["check"]),
                f"{r['load_average_before']:.1f} → {r['load_average']:.1f}",
            ]
        )
    table = markdown_table(
        [
            "phase",
            "clients",
            "load (s)",
            "complete reports acknowledged",
            "errors",
            "fully processed/s (steady: last 3/4 of the load)",
            "backlog over the load: reports not fully processed (files waiting)",
            "finish → fully processed p50 / p95 s (→ in queue)",
            "files unhashed at load end",
            "left after the drain",
            "database check",
            "load avg (1 min) before → end",
        ],
        rows,
    )
    cpu_rows = []
    for r in results.values():
        for period, cpu, span_counts in (
            ("load", r["cpu_load"], (r["samples"][0][1], r["at_load_end"])),
            ("drain", r["cpu_drain"], (r["at_load_end"], r["at_end"])),
        ):
            if period == "drain" and r["drained_s"] < 1:
                continue
            first, last = span_counts
            stored = last["stored"] - first["stored"]
            hashed_reports = (last["files_hashed"] - first["files_hashed"]) // 2
            scored = last["scored"] - first["scored"]
            done = last["done"] - first["done"]
            cpu_rows.append(
                [
                    r["phase"],
                    period,
                    f"{stored} / {hashed_reports} / {scored} / {done}",
                    f"{cpu.server:.1f} ({_ms(cpu.server, stored)})",
                    f"{cpu.pg_server:.1f}",
                    f"{cpu.hashing:.1f} ({_ms(cpu.hashing, hashed_reports)})",
                    f"{cpu.worker:.1f} ({_ms(cpu.worker, scored)})",
                    f"{cpu.pg_worker:.1f} ({_ms(cpu.pg_worker, scored)})",
                    f"{cpu.total:.1f} ({_ms(cpu.total, done)})",
                    f"{cpu.client:.1f}",
                ]
            )
    cpu_table = markdown_table(
        [
            "phase",
            "period",
            "reports stored / hashed / scored / fully processed",
            "serve process CPU s (ms per report stored)",
            "PostgreSQL for serve CPU s",
            "hashing child CPU s (ms per report hashed)",
            "veille worker CPU s: match, link, score (ms per report scored)",
            "PostgreSQL for worker CPU s (ms per report scored)",
            "all CPU s (ms per report fully processed)",
            "load generator CPU s",
        ],
        cpu_rows,
    )
    return f"""
Run: `{command}` (the issue asks for 10 minutes of load; this run's durations are in the
table). PostgreSQL, one `veille serve` process (`VEILLE_JOBS_IN_SERVE=false`: no consumer, no
media worker) and one `veille worker` process (the job-system consumer: `media.work` hashes in
its low-priority child process and matches, then `flow.link` and `flow.score`), each phase on a
fresh schema. Clients: the
ESP clients of `bench/intake.py` (complete report = submit + 2 uploads of ~99 KB procedural
JPEGs + 2 fileinfo + finish). A report is *fully processed* when its media are hashed and
matched, it is in `report_cluster`, `triage_score` and `triage_queue_item`. Phase `e2e`: clients
as fast as they go; `latency`: rate-limited clients (about half the e2e throughput), time from
the acknowledged `finish` to the report being fully processed, polled every 0.5 s (in brackets:
to its queue item alone); `intake`: no consumer and no `veille worker`. Each load is followed by
up to {args.drain_timeout:.0f} s without load ("left after the drain").

{table}

CPU seconds per process over the load and over the drain that followed (PostgreSQL backends
told apart by application_name; "hashing child" is the worker's low-priority process, which
only hashes: matching runs in the worker process and counts there):

{cpu_table}

{machine_description(("fastapi", "uvicorn", "sqlalchemy", "psycopg", "huey", "pdqhash"))}
"""


if __name__ == "__main__":
    main()
