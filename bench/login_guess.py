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
import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, percentile, write_result
from bench._server import (
    REPORT_OPENING,
    CpuSample,
    HttpError,
    KeepAliveConnection,
    ScratchDatabase,
    basic_authorization,
    free_port,
    running_server,
    scratch_database,
)

ROOT = Path(__file__).resolve().parents[1]
APPLICATION_NAME = "veille-bench-login-guess"
USERNAME, PASSWORD = "bench-esp", "bench-password"
PROBE_USER, PROBE_PASSWORD = "bench-probe-{n}", "probe-password-{n}"
PROVIDER_ADDRESS = "127.0.0.1"
SCENARIOS = ("none", "shared", "spread")
XML = "text/xml; charset=utf-8"
REPORT = (
    REPORT_OPENING
    + """  <personOrUserReported><screenName>bench_user_{n}</screenName></personOrUserReported>
</report>"""
)


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


@dataclass
class Load:
    """What the provider, the attackers and the probes saw."""

    submit_s: list[float] = field(default_factory=list)
    submit_at: list[float] = field(default_factory=list)
    submit_errors: Counter[str] = field(default_factory=Counter)
    attacks: Counter[str] = field(default_factory=Counter)
    probes: list[tuple[float, int | str, float]] = field(default_factory=list)


async def provider(port: int, deadline: float, duration_s: float, load: Load) -> None:
    connection = KeepAliveConnection(
        port, basic_authorization(USERNAME, PASSWORD), source=PROVIDER_ADDRESS
    )
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                status, _ = await connection.request(
                    "POST", "/ispws/submit", REPORT.format(n=n).encode(), content_type=XML
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
    connection = KeepAliveConnection(port, basic_authorization(USERNAME, ""), source=source)
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            if number % 2:
                connection.authorization = basic_authorization(f"nobody-{number}-{n}", f"guess-{n}")
            else:
                connection.authorization = basic_authorization(USERNAME, f"guess-{number}-{n}")
            try:
                status, _ = await connection.request("GET", "/ispws/status")
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
        connection = KeepAliveConnection(
            port,
            basic_authorization(PROBE_USER.format(n=n), PROBE_PASSWORD.format(n=n)),
            source=PROVIDER_ADDRESS,
        )
        started = time.perf_counter()
        status: int | str
        try:
            status, _ = await connection.request("GET", "/ispws/status")
        except HttpError as error:
            status = str(error)[:40]
        finally:
            connection.close()
        load.probes.append((time.monotonic() - start, status, time.perf_counter() - started))
        n += 1


def _prepare_with(source: str, database: ScratchDatabase, probes: int) -> bool:
    """Run ``prepare`` with the code in ``source``; whether that code has a login throttle."""
    prepared = subprocess.run(
        [sys.executable, __file__, "--prepare", database.url, "--probes", str(probes)],
        env={**os.environ, "PYTHONPATH": source},
        check=True,
        capture_output=True,
        text=True,
    )
    return bool(json.loads(prepared.stdout.strip().splitlines()[-1])["throttle"])


def run_scenario(
    source: str, engine: str, scenario: str, args: argparse.Namespace
) -> dict[str, object]:
    with scratch_database(engine, "login", APPLICATION_NAME) as database:
        throttle = _prepare_with(source, database, int(args.duration / args.probe_every) + 1)
        port = free_port()
        with running_server(database, port, source=source) as server:
            # The provider's first login: checked once, then answered from memory.
            answer = httpx.get(f"http://127.0.0.1:{port}/ispws/status", auth=(USERNAME, PASSWORD))
            assert answer.status_code == 200, answer.text
            time.sleep(1)  # let the media worker settle
            load = Load()
            before = CpuSample.take(server.pid, database.postgres_url, APPLICATION_NAME)
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
            cpu = CpuSample.take(server.pid, database.postgres_url, APPLICATION_NAME) - before
            load_average = os.getloadavg()[0]
            locked = lockouts(database.url)
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
    cpu: CpuSample = r["cpu"]  # type: ignore[assignment]
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
        # The server's column here counts all its processes, the hashing one included.
        f"{cpu.server_total_s:.1f}",
        f"{cpu.postgres_s:.1f}" if r["engine"] == "postgresql" else "-",
        f"{cpu.client_s:.1f}",
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
