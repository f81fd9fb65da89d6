"""Benchmark: bulk import of synthetic reports on SQLite and PostgreSQL.

Each report carries 3 identifiers (e-mail, phone, IP, drawn from pools so that
identifiers repeat across reports as real ones do) and 2 media items. Each
engine runs in its own process so that peak memory is measured per engine.

    .venv/bin/python bench/import.py --reports 100000
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine_description, markdown_table, write_result

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CATEGORIES = ["p2p", "social_media", "messaging", "online_gaming", "darknet_forum", "website"]
COUNTRIES = ["FR", "DE", "GB", "ES", "IT", "NL", "BE", "PL", "SE", "BR"]


def write_reports(path: Path, count: int) -> None:
    """Synthetic reports: reserved ranges only (example.com, 198.51.100.0/24, +44 7700 900xxx)."""
    with path.open("w", encoding="utf-8") as stream:
        for number in range(count):
            record = {
                "external_id": f"B-{number:08d}",
                "source": "bench",
                "reporter_kind": "esp",
                "received_at": f"2020-{1 + number % 12:02d}-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
                "stated_country": COUNTRIES[number % len(COUNTRIES)],
                "platform": "BenchShare",
                "platform_category": CATEGORIES[number % len(CATEGORIES)],
                "offence_types": ["csam_distribution"]
                if number % 3
                else ["grooming", "sextortion"],
                "owner_agency": "Bench Police",
                "identifiers": [
                    {"kind": "email", "value": f"user{number % 40_000}@example.com"},
                    {"kind": "phone", "value": f"+447700900{number % 1000:03d}"},
                    {"kind": "ip", "value": f"198.51.100.{number % 254 + 1}"},
                ],
                "media": [
                    {
                        "md5": uuid.UUID(int=number * 2).hex,
                        "pdq": f"{number * 2:064x}",
                        "pdq_quality": 80,
                    },
                    {"md5": uuid.UUID(int=number * 2 + 1).hex, "size_bytes": 1000 + number},
                ],
            }
            stream.write(json.dumps(record) + "\n")


def run_one(url: str, path: Path, parallel: bool | None = None) -> dict[str, float]:
    """Import ``path`` into a fresh database at ``url``; runs inside a child process.

    ``parallel``: None lets the importer choose (a second, parsing process for
    files of 2 MiB or more), False keeps everything in this process.
    """
    from veille.intake.importer import import_reports
    from veille.store import migrate
    from veille.store.agencies import AgencySpec, add_agency
    from veille.store.db import Database, create_veille_engine
    from veille.vocab import AgencyKind

    database = Database(create_veille_engine(url))
    migrate.upgrade(database)
    with database.session() as session:
        add_agency(session, AgencySpec("Bench Police", AgencyKind.POLICE, "FR"))
    started = time.perf_counter()
    summary = import_reports(database, path, actor="bench", parallel=parallel)
    elapsed = time.perf_counter() - started
    assert summary.imported > 0 and summary.rejected == 0, summary.errors[:3]
    started = time.perf_counter()
    again = import_reports(database, path, actor="bench", parallel=parallel)
    reimport = time.perf_counter() - started
    assert again.unchanged == summary.imported
    # This process (the writer) plus the largest parsing process it started.
    peak_mib = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    database.dispose()
    return {
        "reports": summary.imported,
        "seconds": elapsed,
        "reimport_seconds": reimport,
        "peak_mib": peak_mib,
    }


def _postgres_schema_url() -> tuple[str, str] | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except OperationalError:
        return None
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", schema


def _postgres_available() -> bool:
    found = _postgres_schema_url()
    if found is None:
        return False
    _drop_schema(found[1])
    return True


def _drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (median reported)")
    parser.add_argument(
        "--no-single",
        action="store_true",
        help="skip the comparison runs with parsing in the writing process",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        parallel = None if args.child[2] == "auto" else False
        print(json.dumps(run_one(args.child[0], Path(args.child[1]), parallel)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "reports.jsonl"
        write_reports(data, args.reports)
        engines = [("SQLite (file, WAL)", "sqlite")]
        if _postgres_available():
            engines.append(("PostgreSQL 127.0.0.1", "postgresql"))
        modes = [("parse in a second process", "auto")]
        if not args.no_single:
            modes.append(("parse in the writing process", "single"))
        for (engine_name, engine), (mode_name, mode) in itertools.product(engines, modes):
            name = f"{engine_name}, {mode_name}"
            if engine == "sqlite":
                url, schema = f"sqlite:///{folder}/bench.db", None
            else:
                url, schema = _postgres_schema_url() or ("", None)
            runs = []
            for run in range(args.repeat):
                if run and schema:
                    _drop_schema(schema)
                    url, schema = _postgres_schema_url() or (url, schema)
                elif run:
                    Path(url.removeprefix("sqlite:///")).unlink()
                child = subprocess.run(
                    [sys.executable, __file__, "--child", url, str(data), mode],
                    capture_output=True,
                    text=True,
                )
                if child.returncode != 0:
                    raise SystemExit(f"{name} run failed:\n{child.stderr}")
                runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
            if schema:
                _drop_schema(schema)
            else:
                Path(url.removeprefix("sqlite:///")).unlink()
            rates = sorted(r["reports"] / r["seconds"] for r in runs)
            result = sorted(runs, key=lambda r: r["reports"] / r["seconds"])[len(runs) // 2]
            rate = rates[len(rates) // 2]
            rows.append(
                [
                    name,
                    f"{result['reports']:,.0f}",
                    f"{result['seconds']:.1f}",
                    f"{rate:,.0f}",
                    f"{rates[0]:,.0f}–{rates[-1]:,.0f}",
                    f"{result['reports'] / result['reimport_seconds']:,.0f}",
                    f"{result['peak_mib']:.0f}",
                ]
            )
            print(f"{name}: median {rate:,.0f} reports/s over {len(runs)} runs", flush=True)
    table = markdown_table(
        [
            "engine, parsing",
            "reports",
            "import s",
            "reports/s (median)",
            "range over runs",
            "re-import (unchanged) reports/s",
            "peak RSS MiB (writer + parser)",
        ],
        rows,
    )
    body = (
        f"Bulk import of {args.reports:,} synthetic reports (3 identifiers and 2 media items each) "
        "from JSON Lines, one transaction, with validation and normalisation; each engine runs "
        f"{args.repeat} times in fresh databases and the median run is shown. Target: ≥ 5,000 "
        "reports/s on SQLite. `veille import reports` parses and validates a file of 2 MiB or "
        "more in a second process while the first writes (rows 'parse in a second process'); "
        "the rows 'parse in the writing process' are the same import with `parallel=False`, "
        "measured in the same run for comparison.\n\n"
        + table
        + "\n\n"
        + machine_description(("sqlalchemy", "pydantic", "psycopg"))
    )
    print(table)
    print(f"written to {write_result('import', 'Import (bench/import.py)', body)}")


if __name__ == "__main__":
    main()
