"""Benchmark: one provider's submit latency while 32 clients guess ESP passwords.

Issue 12, item 5: every wrong password costs a scrypt (about 50 ms of CPU),
so before login throttling 32 guessing clients raised another provider's
median submit from 5.9 ms to 748 ms. This measures it again against a real
``veille serve`` (one uvicorn process, its media worker) on PostgreSQL and
SQLite, in three scenarios of ``--duration`` seconds each, each on a fresh
database and a fresh server:

- ``none``: baseline, the provider alone;
- ``shared``: 32 attackers on 127.0.0.1, the provider's own address (half
  guess the provider's user name, half unknown user names, a new one each
  try); they ignore ``Retry-After`` and retry at once;
- ``spread``: the same 32 attackers, each from its own loopback address
  (127.0.0.2 … 127.0.0.33), as 32 machines would.

The provider submits reports (``/ispws/submit``, one at a time, keep-alive)
from 127.0.0.1 after logging in once (``/ispws/status``): from then on the
server answers its login from memory (five minutes), not through the
throttle. To see what a provider whose remembered login has expired gets,
a probe logs in every ``--probe-every`` seconds from 127.0.0.1 as another
provider that has logged in from 127.0.0.1 before (trusted for 30 days in the
shared table) but not through this server process: a fresh account each
time, so that no probe is answered from memory.

Attackers' answers: 401 after a password check (one scrypt each), 429 when
the address or user name is blocked (no password check). Lock-outs are the
``esp.login_locked`` audit events written during the run.

``--source LABEL=DIR`` runs the server (and prepares its database) from
another source tree, e.g. the code before the fix, extracted without touching
the checkout: ``mkdir -p /tmp/veille-before && git archive 9b4fa8b~1 src |
tar -x -C /tmp/veille-before``.

Committed run (before and after the fix, from clean exports of both commits):

    mkdir -p /tmp/veille-before /tmp/veille-after
    git archive 9b4fa8b~1 src | tar -x -C /tmp/veille-before
    git archive 71645eb src | tar -x -C /tmp/veille-after
    .venv/bin/python bench/login_guess.py \\
        --source "before fix (e3ca488)=/tmp/veille-before/src" \\
        --source "after fix (71645eb)=/tmp/veille-after/src"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, write_result

ROOT = Path(__file__).resolve().parents[1]

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APPLICATION_NAME = "veille-bench-login-guess"
USERNAME, PASSWORD = "bench-esp", "bench-password"
PROBE_USER, PROBE_PASSWORD = "bench-probe-{n}", "probe-password-{n}"
PROVIDER_ADDRESS = "127.0.0.1"
SCENARIOS = ("none", "shared", "spread")
REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>
    <platform>BenchChat</platform>
    <incidentDateTime>2024-03-01T10:15:00Z</incidentDateTime>
  </incidentSummary>
  <personOrUserReported><screenName>bench_user_{n}</screenName></personOrUserReported>
</report>"""


# --- database preparation (runs in a subprocess with the measured source tree) ------------


def prepare(url: str, probes: int) -> dict[str, object]:
    """Migrate; create the provider and ``probes`` probe providers with their logins.

    Each probe login is marked as having logged in from 127.0.0.1 before (the
    throttle's "trusted" key), where the code has a throttle.
    """
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
        for n in range(probes):
            add_agency(session, AgencySpec(f"Bench probe {n}", AgencyKind.ESP, "US"))
            set_esp_credentials(
                session, f"Bench probe {n}", PROBE_USER.format(n=n), PROBE_PASSWORD.format(n=n)
            )
    throttle = True
    try:
        from veille.intake.login_guard import LoginGuardStore
        from veille.intake.settings import IntakeSettings
        from veille.web.protection import RATE_LIMIT_SECRET_NAME, shared_secret
    except ImportError:
        throttle = False
    if throttle:
        store = LoginGuardStore(
            database, shared_secret(database, RATE_LIMIT_SECRET_NAME), IntakeSettings()
        )
        for n in range(probes):
            store.succeeded(store.keys(PROBE_USER.format(n=n), PROVIDER_ADDRESS))
    database.dispose()
    return {"throttle": throttle}


def lockouts(url: str) -> int:
    """``esp.login_locked`` audit events in the database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'esp.login_locked'")
        ).scalar_one()
    engine.dispose()
    return int(count)


# --- CPU accounting from /proc ----------------------------------------------------------


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
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


def cpu_sample(server_pid: int, postgres: bool) -> dict[str, float]:
    """CPU seconds so far: the server's processes, its PostgreSQL backends, this process."""
    sample = {"server": 0.0, "postgres": 0.0, "client": time.process_time()}
    for pid in _tree(server_pid):
        try:
            sample["server"] += _cpu_s(pid)
        except OSError:
            continue
    if postgres:
        from sqlalchemy import create_engine, text

        admin = create_engine(POSTGRES_URL)
        with admin.connect() as connection:
            pids = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": APPLICATION_NAME},
            ).scalars()
            for pid in pids:
                try:
                    sample[f"pg{pid}"] = _cpu_s(pid)
                except OSError:
                    continue
        admin.dispose()
    return sample


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    backends = [k for k in after if k.startswith("pg")]
    return {
        "server": after["server"] - before["server"],
        "client": after["client"] - before["client"],
        # A backend that started during the load counts from zero.
        "postgres": sum(after[k] - before.get(k, 0.0) for k in backends),
    }


# --- a lean HTTP/1.1 client that can choose its source address ---------------------------


class HttpError(Exception):
    """The connection failed or the answer was not HTTP."""


class Connection:
    """One keep-alive HTTP/1.1 connection from ``source`` to the server."""

    def __init__(self, port: int, source: str, username: str, password: str) -> None:
        self.port, self.source = port, source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.login(username, password)

    def login(self, username: str, password: str) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.fixed = f"Host: 127.0.0.1:{self.port}\r\nAuthorization: Basic {token}\r\n"

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """Send one request; returns the answer's status (its body is read and dropped)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, local_addr=(self.source, 0)
            )
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.fixed}"
        if body:
            head += f"Content-Type: text/xml; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + body)
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" not in headers:
                raise HttpError(f"no Content-Length in answer: {status_line}")
            await self.reader.readexactly(int(headers["content-length"]))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.close()
            raise HttpError(f"{type(error).__name__}: {error}") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Load:
    """What the provider, the attackers and the probes saw."""

    submit_s: list[float] = field(default_factory=list)
    submit_at: list[float] = field(default_factory=list)
    submit_errors: Counter[str] = field(default_factory=Counter)
    attacks: Counter[str] = field(default_factory=Counter)
    probes: list[tuple[float, int | str, float]] = field(default_factory=list)


async def provider(port: int, deadline: float, duration_s: float, load: Load) -> None:
    connection = Connection(port, PROVIDER_ADDRESS, USERNAME, PASSWORD)
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                status = await connection.request(
                    "POST", "/ispws/submit", REPORT.format(n=n).encode()
                )
            except HttpError as error:
                load.submit_errors[str(error)[:60]] += 1
                continue
            load.submit_s.append(time.perf_counter() - started)
            load.submit_at.append(time.monotonic() - (deadline - duration_s))
            if status != 200:
                load.submit_errors[f"HTTP {status}"] += 1
    finally:
        connection.close()


async def attacker(number: int, port: int, source: str, deadline: float, load: Load) -> None:
    """Guess passwords until ``deadline``, ignoring ``Retry-After``."""
    connection = Connection(port, source, USERNAME, "")
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            if number % 2:
                connection.login(f"nobody-{number}-{n}", f"guess-{n}")
            else:
                connection.login(USERNAME, f"guess-{number}-{n}")
            try:
                status = await connection.request("GET", "/ispws/status")
            except HttpError as error:
                load.attacks[str(error)[:40]] += 1
                await asyncio.sleep(0.01)
                continue
            load.attacks[str(status)] += 1
    finally:
        connection.close()


async def prober(port: int, start: float, every_s: float, deadline: float, load: Load) -> None:
    """Log in as a fresh trusted probe account every ``every_s`` seconds."""
    n = 0
    while (at := start + (n + 0.5) * every_s) < deadline:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        connection = Connection(
            port, PROVIDER_ADDRESS, PROBE_USER.format(n=n), PROBE_PASSWORD.format(n=n)
        )
        started = time.perf_counter()
        try:
            status: int | str = await connection.request("GET", "/ispws/status")
        except HttpError as error:
            status = str(error)[:40]
        finally:
            connection.close()
        load.probes.append((time.monotonic() - start, status, time.perf_counter() - started))
        n += 1


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_scenario(
    source: str, engine: str, scenario: str, args: argparse.Namespace
) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix=f"veille-bench-login-{engine}-"))
    schema = None
    if engine == "sqlite":
        url = f"sqlite:///{folder / 'veille.db'}"
    else:
        from sqlalchemy import create_engine, text

        schema = f"bench_login_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}&application_name={APPLICATION_NAME}"
    env = {**os.environ, "PYTHONPATH": source}
    probes = int(args.duration / args.probe_every) + 1
    prepared = subprocess.run(
        [sys.executable, __file__, "--prepare", url, "--probes", str(probes)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    throttle = bool(json.loads(prepared.stdout.strip().splitlines()[-1])["throttle"])
    port = _free_port()
    env.update(
        {"VEILLE_DATABASE_URL": url, "VEILLE_DATA_DIR": str(folder), "VEILLE_WORKER_POLL_S": "0.2"}
    )
    command = [
        sys.executable,
        "-c",
        "import sys; from veille.cli import app; sys.argv[0] = 'veille'; app()",
        *("serve", "--port", str(port), "--log-level", "warning", "--workers", "1"),
    ]
    server = subprocess.Popen(command, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/ispws/xsd", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The provider's first login: checked once, then answered from memory.
        answer = httpx.get(base + "/ispws/status", auth=(USERNAME, PASSWORD))
        assert answer.status_code == 200, answer.text
        time.sleep(1)  # let the media worker settle
        load = Load()
        before = cpu_sample(server.pid, schema is not None)
        started = time.monotonic()
        deadline = started + args.duration
        sources = {
            "none": [],
            "shared": [PROVIDER_ADDRESS] * args.attackers,
            "spread": [f"127.0.0.{2 + i}" for i in range(args.attackers)],
        }[scenario]

        async def main() -> None:
            await asyncio.gather(
                provider(port, deadline, args.duration, load),
                prober(port, started, args.probe_every, deadline, load),
                *(attacker(i, port, s, deadline, load) for i, s in enumerate(sources)),
            )

        asyncio.run(main())
        elapsed = time.monotonic() - started
        cpu = cpu_used(before, cpu_sample(server.pid, schema is not None))
        load_average = os.getloadavg()[0]
        locked = lockouts(url)
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
        "scenario": scenario,
        "elapsed_s": elapsed,
        "load": load,
        "cpu": cpu,
        "lockouts": locked,
        "throttle": throttle,
        "load_average": load_average,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds < 0.1 else f"{seconds * 1000:.0f}"


def _row(label: str, r: dict[str, object], baseline: float) -> list[object]:
    load: Load = r["load"]  # type: ignore[assignment]
    cpu: dict[str, float] = r["cpu"]  # type: ignore[assignment]
    elapsed = float(r["elapsed_s"])  # type: ignore[arg-type]
    median = percentile(load.submit_s, 0.5)
    attacks = sum(load.attacks.values())
    other = attacks - load.attacks["401"] - load.attacks["429"]
    probe_statuses = Counter(str(status) for _, status, _ in load.probes)
    first_429 = next((t for t, status, _ in load.probes if status == 429), None)
    return [
        label,
        r["engine"],
        {"none": "none", "shared": "127.0.0.1 (shared)", "spread": "127.0.0.2–33"}[
            str(r["scenario"])
        ],
        len(load.submit_s),
        sum(load.submit_errors.values()),
        _ms(median),
        _ms(percentile(load.submit_s, 0.95)),
        _ms(max(load.submit_s, default=float("nan"))),
        _ms(
            percentile(
                [
                    d
                    for d, at in zip(load.submit_s, load.submit_at, strict=True)
                    if at >= elapsed / 2
                ],
                0.5,
            )
        ),
        f"{median / baseline:.1f}" if baseline else "-",
        f"{attacks} ({attacks / elapsed:.0f}/s)" if attacks else "-",
        f"{load.attacks['401']} / {load.attacks['429']}" + (f" / {other}" if other else "")
        if attacks
        else "-",
        ", ".join(f"{n}× {s}" for s, n in sorted(probe_statuses.items()))
        + (f" (first 429 at {first_429:.0f} s)" if first_429 is not None else ""),
        r["lockouts"],
        f"{cpu['server']:.1f}",
        f"{cpu['postgres']:.1f}" if r["engine"] == "postgresql" else "-",
        f"{cpu['client']:.1f}",
        f"{float(r['load_average']):.1f}",  # type: ignore[arg-type]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=20.0, help="Seconds of load per scenario (default 20)."
    )
    parser.add_argument(
        "--attackers", type=int, default=32, help="Concurrent guessing clients (default 32)."
    )
    parser.add_argument(
        "--engines", default="postgresql,sqlite", help="Comma-separated (postgresql,sqlite)."
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="Comma-separated: none (baseline), shared (attackers on the provider's address "
        "127.0.0.1), spread (attackers on 127.0.0.2 and up, one address each).",
    )
    parser.add_argument(
        "--probe-every",
        type=float,
        default=2.0,
        help="Seconds between fresh logins of trusted probe providers (default 2).",
    )
    parser.add_argument(
        "--source",
        action="append",
        metavar="LABEL=DIR",
        help="Run the server from the veille package in DIR (a src folder), shown as LABEL; "
        "repeatable. Default: this checkout's src.",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="Print the table; do not write bench/results."
    )
    parser.add_argument("--prepare", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--probes", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        print(json.dumps(prepare(args.prepare, args.probes)))
        return
    if args.attackers > 250:
        parser.error("--attackers: at most 250 (one loopback address each in 'spread')")
    sources = [
        (label, str(Path(folder).resolve()))
        for label, _, folder in (s.partition("=") for s in args.source or [])
    ] or [("this checkout", str(ROOT / "src"))]
    # Sources interleaved, scenario by scenario: whatever else runs on the machine weighs
    # on each about equally.
    rows: dict[tuple[int, str, int], list[object]] = {}
    baselines: dict[tuple[str, str], float] = {}
    engines, scenarios = args.engines.split(","), args.scenarios.split(",")
    for e, engine in enumerate(engines):
        for c, scenario in enumerate(scenarios):
            for s, (label, folder) in enumerate(sources):
                result = run_scenario(folder, engine, scenario, args)
                load: Load = result["load"]  # type: ignore[assignment]
                median = percentile(load.submit_s, 0.5)
                if scenario == "none":
                    baselines[label, engine] = median
                rows[s, f"{e:03}", c] = _row(label, result, baselines.get((label, engine), 0.0))
                print(
                    label,
                    engine,
                    scenario,
                    f"throttle={result['throttle']}",
                    f"submits={len(load.submit_s)} median={median * 1000:.1f} ms",
                    f"p95={percentile(load.submit_s, 0.95) * 1000:.1f} ms",
                    f"errors={dict(load.submit_errors)}",
                    f"attacks={dict(load.attacks)}",
                    f"probes={[(round(t, 1), code, round(d * 1000)) for t, code, d in load.probes]}",
                    flush=True,
                )
                time.sleep(2)
    table = markdown_table(
        [
            "code",
            "engine",
            "attackers from",
            "provider submits",
            "submit errors",
            "submit median (ms)",
            "p95 (ms)",
            "max (ms)",
            "median, 2nd half (ms)",
            "median × baseline",
            "attacker tries",
            "attackers 401 / 429",
            "fresh logins at 127.0.0.1 (trusted probes)",
            "lock-outs audited",
            "server CPU s",
            "PostgreSQL CPU s",
            "load generator CPU s",
            "machine load avg (1 min)",
        ],
        [rows[key] for key in sorted(rows)],
    )
    body = f"""
One provider submits reports (`/ispws/submit`, one at a time, keep-alive, from 127.0.0.1) to
`veille serve` (one uvicorn process) for {args.duration:.0f} s per scenario, each on a fresh
database and server: alone, then while {args.attackers} clients guess ESP passwords as fast as
the server answers (half the provider's own user name with wrong passwords, half a new unknown
user name each try; they ignore `Retry-After`), all from the provider's address 127.0.0.1
(shared) or each from its own loopback address (127.0.0.2–{1 + args.attackers}). The
provider logged in once before the load, so its logins are answered from the server's memory.
An attacker's 401 is a password check done (one scrypt); a 429 is a try refused without one.
"Fresh logins" are other providers that logged in from 127.0.0.1 before (trusted by the
throttle; not applicable to the code before the fix), a new one every {args.probe_every:g} s,
not remembered by this server process: what the provider itself gets once its remembered
login expires (five minutes). Lock-outs: `esp.login_locked` audit events. "median, 2nd
half": the provider's median submit over the second half of the window, once the guessing
addresses are blocked. The load generator shares the machine's cores with the server and
PostgreSQL; code versions run interleaved, scenario by scenario, so that other work on the
machine weighs on each alike (its load average is in the last column).

{table}

Command:

    mkdir -p /tmp/veille-before /tmp/veille-after
    git archive 9b4fa8b~1 src | tar -x -C /tmp/veille-before
    git archive 71645eb src | tar -x -C /tmp/veille-after
    {shlex.join([".venv/bin/python", "bench/login_guess.py", *sys.argv[1:]])}

{machine_description(("fastapi", "uvicorn", "starlette", "sqlalchemy", "psycopg"))}
"""
    if args.no_write:
        print(body)
        return
    path = write_result(
        "login_guess", "Logins: a provider's submit while clients guess passwords", body
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
