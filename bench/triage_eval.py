"""Evaluate linking and triage on several synthetic scenarios, against their truth.

For each seed: generate a scenario with ``veille synth``'s function (or reuse
one), import it into a fresh database, link it and score it (as of the
scenario's last day), then score what was stored against ``truth/`` with
``veille.triage.evaluation`` (the linker and the scorer never read the
truth). Every figure is the mean over the seeds with a 95 % Student-t
confidence interval (n − 1 degrees of freedom).

- linking: B-cubed precision (all reports) and recall (offenders' reports)
  against the planted offenders, the B-cubed recall ceilings each level of
  evidence allows, recall of the pairs joined by an exact shared identifier,
  offenders fully recovered, false merges, deconfliction alerts per pair of
  agencies;
- triage: per-agency average precision of the planted cases in each
  agency's queue order and recall within the agency's capacity (the planted
  cases it holds × ``--capacity-factor``), against random order, newest
  first and the flag rule, computed on the same reports;
- throughput of linking and scoring.

Usage::

    python bench/triage_eval.py --size small --write          # seeds 1-5: bench/results/triage.md
    python bench/triage_eval.py --reports 1500 --seeds 1 --guard   # the figures tests guard
    python bench/triage_eval.py --size medium --seeds 1-2 --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scipy import stats
from sqlalchemy import create_engine, text

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RESULTS_DIR, machine_description, markdown_table, write_result
from veille.intake.importer import import_reports
from veille.linking.engine import link_reports
from veille.store import migrate
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database, create_veille_engine
from veille.triage.evaluation import evaluate_run
from veille.triage.scoring import score_reports

GUARD_PATH = RESULTS_DIR / "triage_guard.json"
GUARD_COMMAND = "python bench/triage_eval.py --reports 1500 --seeds 1 --guard"
GUARDED = (
    "bcubed_precision",
    "bcubed_recall",
    "exact_pair_recall",
    "exact_pair_recall_permitted",
    "offenders_recovered",
    "alert_precision",
    "alert_recall",
    "triage_average_precision",
    "triage_recall_within_capacity",
    "triage_observable_within_capacity",
    "triage_observable_permitted_within_capacity",
    "flag_rule_average_precision",
    "newest_first_average_precision",
)
"""Figures ``tests/triage/test_evaluation.py`` holds to the committed ones (± the margin)."""
GUARD_MARGIN = 0.03


def generate(folder: Path, seed: int, size: str, reports: int | None) -> Path:
    """A scenario folder (generated unless it already holds a truth.json)."""
    if (folder / "truth.json").exists():
        return folder
    from veille.synth.generator import SynthOptions, generate_scenario

    generate_scenario(SynthOptions(out=folder, seed=seed, size=size, reports=reports, images=0))
    return folder


def fresh_database(url: str | None, workdir: Path) -> tuple[Database, str | None]:
    """A new, migrated database: a SQLite file, or a new schema on a PostgreSQL server."""
    if url is None or url.startswith("sqlite"):
        database = Database(
            create_veille_engine(f"sqlite:///{workdir / f'eval-{uuid.uuid4().hex[:8]}.db'}")
        )
        migrate.upgrade(database)
        return database, None
    schema = f"bench_triage_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    database = Database(create_veille_engine(f"{url}{separator}options=-csearch_path%3D{schema}"))
    migrate.upgrade(database)
    return database, schema


def drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def match_media(database: Database, folder: Path, workdir: Path) -> None:
    """Import the scenario's known-content list and match every report's media."""
    from veille.media.listformats import parse_list
    from veille.media.lists import import_list
    from veille.media.matching import match_reports

    entries = parse_list((folder / "hashlists" / "known-content.csv").read_text(), "csv")
    with database.session() as session:
        import_list(session, "synth-known-content", entries, "csv")
    match_reports(database, index_folder=workdir / "index")


def run_seed(
    database: Database,
    folder: Path,
    *,
    seed: int,
    media: bool = False,
    capacity_factor: float = 1.0,
    workdir: Path | None = None,
) -> dict[str, float]:
    """Import, link and score one scenario into ``database``; its figures and timings."""
    with database.session() as session:
        ensure_agencies(session, load_agency_specs(folder / "agencies.jsonl"))
    started = time.perf_counter()
    imported = import_reports(database, folder / "reports.jsonl", skip_invalid=True).imported
    import_s = time.perf_counter() - started
    scenario = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["scenario"]
    as_of = datetime.fromisoformat(scenario["to"]).replace(tzinfo=UTC)
    if media:
        match_media(database, folder, workdir or folder)
    linking = link_reports(database)
    scoring = score_reports(database, as_of=as_of, media_source=True if media else None)
    figures = evaluate_run(database, folder, rng_seed=seed, capacity_factor=capacity_factor)
    figures.update(
        {
            "seed": float(seed),
            "imported": float(imported),
            "import_s": import_s,
            "link_rate": imported / linking.elapsed_s,
            "score_rate": imported / scoring.elapsed_s,
            "link_and_score_rate": imported / (linking.elapsed_s + scoring.elapsed_s),
            "stop_listed": float(linking.keys_stopped),
        }
    )
    return figures


def parse_seeds(spec: str) -> list[int]:
    """``1-5`` → 1..5; ``3,7,11`` → those; ``7`` → seed 7."""
    seeds: list[int] = []
    try:
        for part in spec.split(","):
            first, _, last = part.strip().partition("-")
            seeds.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise SystemExit(f"--seeds: expected seeds such as 1-5 or 3,7,11 (got {spec!r})") from None
    if not seeds:
        raise SystemExit(f"--seeds: no seed in {spec!r}")
    return seeds


# -- summaries -----------------------------------------------------------------------


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95 % Student-t interval over the seeds (the mean twice for one seed)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    half = (
        float(stats.t.ppf(0.975, len(values) - 1))
        * statistics.stdev(values)
        / math.sqrt(len(values))
    )
    return mean, mean - half, mean + half


def shown(values: list[float], digits: int = 3) -> str:
    mean, low, high = interval(values)
    if len(values) < 2:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} [{low:,.{digits}f}, {high:,.{digits}f}]"


def render(runs: list[dict[str, float]], command: str, engine: str) -> str:
    """The tables of a run over several seeds, in Markdown."""

    def column(key: str) -> list[float]:
        return [run[key] for run in runs]

    def row(label: str, key: str, goal: str = "", digits: int = 3) -> list[object]:
        return [label, shown(column(key), digits), goal]

    seeds = ", ".join(str(int(run["seed"])) for run in runs)
    counts = markdown_table(
        ["Scenario (mean over seeds)", "Value"],
        [
            ["Reports imported", shown(column("imported"), 0)],
            ["Recurring offenders (2+ reports)", shown(column("offenders"), 0)],
            ["Planted high-priority cases", shown(column("planted_cases"), 0)],
            ["… of which a reader could see a cue", shown(column("observable_cases"), 0)],
            [
                "… of which within markings (a linked report's cue counts if the scorer may read it)",
                shown(column("observable_cases_permitted"), 0),
            ],
            ["Agencies holding planted cases", shown(column("agencies_with_cases"), 0)],
        ],
    )
    linking = markdown_table(
        ["Linking", "Mean [95 % CI]", "Goal"],
        [
            row("B-cubed precision (all reports)", "bcubed_precision", "≥ 0.995"),
            row("B-cubed recall (offenders' reports)", "bcubed_recall"),
            row("B-cubed recall ceiling: exact identifiers", "ceiling_exact"),
            row("… + variants", "ceiling_variant"),
            row("… + named person (name and date of birth)", "ceiling_person"),
            row("… + own media", "ceiling_media"),
            row("… + name alone (namesakes share it: not evidence of one person)", "ceiling_name"),
            row("… + shared addresses (not evidence of one person)", "ceiling_address"),
            row(
                "Media ceiling within what markings permit (TLP:RED stays with its owner)",
                "permitted_ceiling_media",
            ),
            row("B-cubed recall ÷ media ceiling", "bcubed_recall_of_evidence_ceiling"),
            row(
                "B-cubed recall ÷ media ceiling within markings",
                "bcubed_recall_of_ceiling",
                "≥ 0.95",
            ),
            row("Pairs joined by an exact shared identifier", "exact_pairs", digits=0),
            row("… recall", "exact_pair_recall"),
            row(
                "… of those markings permit joining (both shareable, or both red of one owner)",
                "exact_pairs_permitted",
                digits=0,
            ),
            row("… recall", "exact_pair_recall_permitted", "≥ 0.99"),
            row("Offenders fully recovered (all reports in one cluster)", "offenders_recovered"),
            row("… of those the evidence can recover fully", "recoverable_offenders_recovered"),
            row("Clusters of 2+ reports", "clusters_of_two_or_more", digits=0),
            row(
                "False merges (clusters with 2+ offenders, or an offender and others)",
                "false_merges",
                digits=0,
            ),
            row("… share of clusters of 2+", "false_merge_share"),
            row("Deconfliction alerts (cluster, pair of agencies)", "alert_pairs", digits=0),
            row("Alert precision", "alert_precision"),
            row("False alerts", "false_alert_share", "< 0.01"),
            row("Alert recall (offender, pair of agencies)", "alert_recall"),
            row("Alert recall ceiling (own media and stronger evidence)", "alert_recall_ceiling"),
        ],
    )
    orders = (
        ("Triage (band, score, due time)", "triage"),
        ("Random order (mean of 20)", "random"),
        ("Newest first", "newest_first"),
        ("Flag rule (risk flag first, then arrival)", "flag_rule"),
    )
    triage = markdown_table(
        [
            "Queue order",
            "Per-agency average precision",
            "Recall within capacity",
            "Observable cases within capacity",
            "… observable within markings",
        ],
        [
            [
                label,
                shown(column(f"{name}_average_precision")),
                shown(column(f"{name}_recall_within_capacity")),
                shown(column(f"{name}_observable_within_capacity")),
                shown(column(f"{name}_observable_permitted_within_capacity")),
            ]
            for label, name in orders
        ],
    )
    wins = sum(1 for run in runs if run["ap_gain_over_flag_rule"] > 0)
    gain = (
        f"Average precision, triage − flag rule (paired over seeds): "
        f"{shown(column('ap_gain_over_flag_rule'))}; triage ahead on {wins} of {len(runs)} seeds "
        "(goal: ahead on every seed, interval above zero)."
    )
    speed = markdown_table(
        [f"Throughput ({engine})", "Reports/s, mean [95 % CI]", "Goal"],
        [
            row("Linking", "link_rate", digits=0),
            row("Scoring", "score_rate", digits=0),
            row("Linking + scoring", "link_and_score_rate", "≥ 800 (1M, PostgreSQL)", digits=0),
        ],
    )
    per_seed = markdown_table(
        [
            "Seed",
            "Reports",
            "B³ precision",
            "B³ recall",
            "Exact-pair recall (within markings)",
            "AP triage",
            "AP flag rule",
            "Recall in capacity (triage / flag rule)",
        ],
        [
            [
                int(run["seed"]),
                f"{int(run['imported']):,}",
                f"{run['bcubed_precision']:.3f}",
                f"{run['bcubed_recall']:.3f}",
                f"{run['exact_pair_recall']:.3f} ({run['exact_pair_recall_permitted']:.3f})",
                f"{run['triage_average_precision']:.3f}",
                f"{run['flag_rule_average_precision']:.3f}",
                f"{run['triage_recall_within_capacity']:.3f} / "
                f"{run['flag_rule_recall_within_capacity']:.3f}",
            ]
            for run in runs
        ],
    )
    return "\n\n".join(
        [
            f"`{command}`",
            f"Seeds {seeds}; {engine}; 95 % intervals are Student-t over the seeds "
            f"(n = {len(runs)}); capacity of an agency = the planted cases it holds "
            f"× {runs[0]['capacity_factor']:g}.",
            counts,
            linking,
            triage,
            gain,
            speed,
            per_seed,
            machine_description(("sqlalchemy", "psycopg", "numpy", "scipy"))
            + f"\n- SQLite {sqlite3.sqlite_version}",
        ]
    )


def write_guard(run: dict[str, float]) -> Path:
    """Write the figures the tests guard (one seed, 1,500 reports)."""
    document = {
        "command": GUARD_COMMAND,
        "seed": int(run["seed"]),
        "reports": 1500,
        "margin": GUARD_MARGIN,
        "figures": {key: round(run[key], 4) for key in GUARDED},
    }
    GUARD_PATH.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return GUARD_PATH


def guard_failures(run: dict[str, float], guard: dict[str, Any]) -> list[str]:
    """The guarded figures of ``run`` further than the margin from the committed ones."""
    margin = float(guard["margin"])
    return [
        f"{key}: {run[key]:.4f}, committed {expected:.4f} ± {margin}"
        for key, expected in guard["figures"].items()
        if abs(run[key] - expected) > margin
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="small", help="synth size: small, medium, large")
    parser.add_argument(
        "--reports", type=int, default=None, help="aim at N reports (overrides --size)"
    )
    parser.add_argument("--seeds", default="1-5", help="seeds: 1-5 (default), 3,7,11 or 7")
    parser.add_argument(
        "--scenarios",
        type=Path,
        default=None,
        help="reuse (or write) scenarios here, one folder per seed",
    )
    parser.add_argument(
        "--database", default=None, help="SQLAlchemy URL (default: new SQLite files)"
    )
    parser.add_argument(
        "--media", action="store_true", help="match media against the hash list first"
    )
    parser.add_argument(
        "--capacity-factor",
        type=float,
        default=1.0,
        help="an agency's capacity = its planted cases × this (≥ 1; default 1)",
    )
    parser.add_argument("--json", action="store_true", help="print every seed's figures as JSON")
    parser.add_argument("--write", action="store_true", help="write bench/results/triage*.md")
    parser.add_argument("--guard", action="store_true", help=f"write {GUARD_PATH.name} (one seed)")
    args = parser.parse_args()
    if args.capacity_factor < 1:
        parser.error(
            "--capacity-factor: must be at least 1 (the capacity covers the planted cases)"
        )
    seeds = parse_seeds(args.seeds)
    workdir = Path(tempfile.mkdtemp(prefix="veille-triage-eval-"))
    scenarios = args.scenarios or workdir
    label = args.size if args.reports is None else f"{args.reports}r"
    runs = []
    for seed in seeds:
        folder = generate(scenarios / f"{label}-seed-{seed}", seed, args.size, args.reports)
        database, schema = fresh_database(args.database, workdir)
        try:
            run = run_seed(
                database,
                folder,
                seed=seed,
                media=args.media,
                capacity_factor=args.capacity_factor,
                workdir=workdir,
            )
        finally:
            database.dispose()
            if schema is not None:
                drop_schema(args.database, schema)
        run["capacity_factor"] = args.capacity_factor
        runs.append(run)
        print(
            f"seed {seed}: {int(run['imported']):,} reports, B³ precision "
            f"{run['bcubed_precision']:.3f}, recall {run['bcubed_recall']:.3f}, AP triage "
            f"{run['triage_average_precision']:.3f} / flag rule {run['flag_rule_average_precision']:.3f}",
            file=sys.stderr,
        )
    engine = (
        "SQLite" if args.database is None or args.database.startswith("sqlite") else "PostgreSQL"
    )
    command = "python bench/triage_eval.py " + shlex.join(sys.argv[1:])
    if args.json:
        print(json.dumps(runs, indent=2))
    else:
        print(render(runs, command, engine))
    if args.guard:
        print(f"wrote {write_guard(runs[0])}", file=sys.stderr)
    if args.write:
        name = "triage" if args.reports is None and args.size == "small" else f"triage_{label}"
        title = f"Linking and triage against the truth ({label}, {len(runs)} seeds)"
        print(f"wrote {write_result(name, title, render(runs, command, engine))}", file=sys.stderr)


if __name__ == "__main__":
    main()
