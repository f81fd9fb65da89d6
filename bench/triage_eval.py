"""Evaluate linking and triage on a synthetic scenario, against its truth.

Generates a scenario with ``veille synth``'s Python function (or reuses one),
imports it into a fresh database, links and scores it, and prints:

- pairwise precision and recall of offender links (reports of one planted
  offender should share a case cluster; reports of different ones should not);
- precision@100 and recall of the planted high-priority cases in the ordered
  queue, against a baseline that orders by arrival time (oldest first), over
  all reports and within each owning agency's own queue;
- deconfliction alerts raised for planted offenders whose reports are held by
  two or more agencies;
- linking and scoring throughput (reports/s).

Usage::

    python bench/triage_eval.py --size small
    python bench/triage_eval.py --reports 200000 --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

from veille.intake.importer import import_reports
from veille.linking.engine import link_reports
from veille.linking.models import DeconflictionAlert, ReportCluster
from veille.store import migrate
from veille.store.agencies import ensure_agencies, load_agency_specs
from veille.store.db import Database, create_veille_engine
from veille.store.models import Report
from veille.triage.models import TriageScore
from veille.triage.scoring import score_reports


def generate(folder: Path, size: str, reports: int | None, seed: int) -> Path:
    """A scenario folder (generated unless it already holds a truth.json)."""
    if (folder / "truth.json").exists():
        return folder
    from veille.synth.generator import SynthOptions, generate_scenario

    generate_scenario(SynthOptions(out=folder, seed=seed, size=size, reports=reports, images=0))
    return folder


def fresh_database(
    url: str | None, workdir: Path, schema: str | None = None
) -> tuple[Database, str | None]:
    """A new, migrated database: a SQLite file, or a schema on a PostgreSQL server.

    A named ``schema`` is created if missing and kept, so a large import can
    be reused by later runs (which then rebuild links and re-score).
    """
    if url is None or url.startswith("sqlite"):
        path = workdir / f"eval-{uuid.uuid4().hex[:8]}.db"
        database = Database(create_veille_engine(f"sqlite:///{path}"))
        migrate.upgrade(database)
        return database, None
    schema = schema or f"bench_triage_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
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


def match_media(database: Database, folder: Path, workdir: Path) -> float:
    """Import the scenario's known-content list and match every report's media; seconds taken."""
    from veille.media.listformats import parse_list
    from veille.media.lists import import_list
    from veille.media.matching import match_reports

    started = time.perf_counter()
    entries = parse_list((folder / "hashlists" / "known-content.csv").read_text(), "csv")
    with database.session() as session:
        import_list(session, "synth-known-content", entries, "csv")
    match_reports(database, index_folder=workdir / "index")
    return round(time.perf_counter() - started, 1)


def reset_triage(database: Database) -> None:
    """Forget scores and queue items, so that a reused import is scored from scratch."""
    from sqlalchemy import delete

    from veille.triage.models import QueueItem, Referral

    with database.session() as session:
        for model in (Referral, QueueItem, TriageScore):
            session.execute(delete(model))


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def link_quality(offender_of: dict[int, str], cluster_of: dict[int, int]) -> dict[str, float]:
    """Pairwise precision and recall of clusters against planted offenders."""
    cells: Counter[tuple[int, str]] = Counter()
    clusters: Counter[int] = Counter()
    offenders: Counter[str] = Counter()
    for report_id, cluster in cluster_of.items():
        truth = offender_of.get(report_id, f"none:{report_id}")
        cells[(cluster, truth)] += 1
        clusters[cluster] += 1
        offenders[truth] += 1
    true_positive = sum(pairs(n) for n in cells.values())
    predicted = sum(pairs(n) for n in clusters.values())
    actual = sum(pairs(n) for n in offenders.values())
    return {
        "precision": true_positive / predicted if predicted else 1.0,
        "recall": true_positive / actual if actual else 1.0,
        "predicted_pairs": predicted,
        "true_pairs": actual,
    }


def linkable_groups(
    folder: Path, report_ids: dict[str, int], shared_ips: set[str]
) -> dict[int, int]:
    """Truth-side ceiling: reports connected by an exact shared identifier (planted shared IPs aside)."""
    parent: dict[Any, Any] = {}

    def find(node: Any) -> Any:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    with (folder / "reports.jsonl").open() as stream:
        for line in stream:
            raw = json.loads(line)
            report_id = report_ids.get(raw["external_id"])
            if report_id is None:
                continue
            find(report_id)
            for identifier in raw.get("identifiers", []):
                if identifier["kind"] == "ip" and identifier["value"] in shared_ips:
                    continue
                key = (
                    identifier["kind"],
                    identifier["value"].lower(),
                    identifier.get("platform", "").lower(),
                )
                parent[find(report_id)] = find(key)
    roots: dict[Any, int] = {}
    return {rid: roots.setdefault(find(rid), len(roots)) for rid in report_ids.values()}


def ranking_quality(order: list[int], planted: set[int], k: int = 100) -> dict[str, float]:
    top = order[:k]
    hits = sum(1 for report_id in top if report_id in planted)
    r_top = order[: len(planted)]
    return {
        "precision_at_k": hits / max(1, len(top)),
        "recall_at_k": hits / max(1, len(planted)),
        "r_precision": sum(1 for r in r_top if r in planted) / max(1, len(planted)),
    }


def per_agency_recall(rows: list[tuple[int, int]], planted: set[int], k: int = 100) -> float:
    """Share of planted reports in the first ``k`` of their owning agency's queue (rows in order)."""
    position: dict[int, int] = defaultdict(int)
    found = 0
    for report_id, agency_id in rows:
        position[agency_id] += 1
        if report_id in planted and position[agency_id] <= k:
            found += 1
    return found / max(1, len(planted))


def evaluate(database: Database, folder: Path) -> dict[str, Any]:
    truth = json.loads((folder / "truth.json").read_text())
    with database.session() as session:
        report_ids = dict(session.execute(select(Report.external_id, Report.id)).all())
        owners = dict(session.execute(select(Report.id, Report.owner_agency_id)).all())
        cluster_of = dict(
            session.execute(select(ReportCluster.report_id, ReportCluster.cluster_id)).all()
        )
        ranked = session.execute(
            select(TriageScore.report_id, TriageScore.band, Report.owner_agency_id)
            .join(Report, Report.id == TriageScore.report_id)
            .order_by(
                TriageScore.band,
                TriageScore.due_at,
                TriageScore.score.desc(),
                TriageScore.report_id,
            )
        ).all()
        arrival = session.execute(
            select(Report.id, Report.owner_agency_id).order_by(Report.received_at, Report.id)
        ).all()
        alerted_clusters = set(session.scalars(select(DeconflictionAlert.cluster_id).distinct()))
    offender_of: dict[int, str] = {}
    with (folder / "truth" / "links.jsonl").open() as stream:
        for line in stream:
            link = json.loads(line)
            if link["report"] in report_ids:
                offender_of[report_ids[link["report"]]] = link["offender"]
    planted = {
        report_ids[item["report"]]
        for item in truth["high_priority"]
        if item["report"] in report_ids
    }
    order = [row[0] for row in ranked]
    baseline = [row[0] for row in arrival]
    by_offender: dict[str, set[int]] = defaultdict(set)
    for report_id, offender in offender_of.items():
        by_offender[offender].add(report_id)
    cross_border = [o for o, rs in by_offender.items() if len({owners[r] for r in rs}) >= 2]
    alerted = [
        o
        for o in cross_border
        if any(cluster_of.get(r) in alerted_clusters for r in by_offender[o])
    ]
    shared_ips = set(truth.get("shared_ips", {}).get("addresses", []))
    ceiling_groups = linkable_groups(folder, report_ids, shared_ips)
    ceiling = link_quality(offender_of, ceiling_groups)
    linkable_cross = [
        o
        for o in cross_border
        if any(
            len({owners[r] for r in by_offender[o] if ceiling_groups[r] == group}) >= 2
            for group in {ceiling_groups[r] for r in by_offender[o]}
        )
    ]
    bands = Counter(row[1] for row in ranked)
    planted_bands = Counter(row[1] for row in ranked if row[0] in planted)
    return {
        "reports": len(report_ids),
        "offenders": len(by_offender),
        "links": link_quality(offender_of, cluster_of),
        "ceiling_recall": ceiling["recall"],
        "linkable_cross_border": len(linkable_cross),
        "planted_p1": len(planted),
        "triage": ranking_quality(order, planted),
        "baseline": ranking_quality(baseline, planted),
        "agency_recall_triage": per_agency_recall([(r[0], r[2]) for r in ranked], planted),
        "agency_recall_baseline": per_agency_recall([(r[0], r[1]) for r in arrival], planted),
        "bands": dict(sorted(bands.items())),
        "planted_bands": dict(sorted(planted_bands.items())),
        "cross_border_offenders": len(cross_border),
        "cross_border_alerted": len(alerted),
        "alerts": None,
    }


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in lscpu.splitlines()
                if line.startswith("Model name")
            ),
            "?",
        )
    except OSError:
        model = "?"
    import os

    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def versions() -> str:
    names = ("sqlalchemy", "psycopg", "pydantic")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="small", help="synth size: small, medium, large")
    parser.add_argument(
        "--reports", type=int, default=None, help="exact number of reports (overrides --size)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scenario", type=Path, default=None, help="reuse (or write) the scenario here"
    )
    parser.add_argument(
        "--database", default=None, help="SQLAlchemy URL (default: a new SQLite file)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--schema", default=None, help="PostgreSQL: keep (or reuse) the import in this schema"
    )
    parser.add_argument(
        "--media",
        action="store_true",
        help="import the hash list and match media first (veille.media)",
    )
    parser.add_argument(
        "--content-links",
        action="store_true",
        help="with --media: also link on new-content clusters",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="veille-triage-eval-"))
    folder = generate(args.scenario or workdir / "scenario", args.size, args.reports, args.seed)
    database, schema = fresh_database(args.database, workdir, args.schema)
    try:
        started = time.perf_counter()
        with database.session() as session:
            already = session.scalar(select(func.count()).select_from(Report)) or 0
            ensure_agencies(session, load_agency_specs(folder / "agencies.jsonl"))
        if already:
            imported = already
        else:
            imported = import_reports(
                database, folder / "reports.jsonl", skip_invalid=True
            ).imported
        import_s = time.perf_counter() - started
        end = datetime.fromisoformat(
            json.loads((folder / "truth.json").read_text())["scenario"]["to"]
        )
        as_of = end.replace(tzinfo=UTC)
        media_s = match_media(database, folder, workdir) if args.media else None
        linking = link_reports(
            database, content_source=True if args.content_links else None, rebuild=bool(already)
        )
        if already:
            reset_triage(database)
        scoring = score_reports(database, as_of=as_of, media_source=True if args.media else None)
        figures = evaluate(database, folder)
        figures.update(
            {
                "engine": database.dialect,
                "media_s": media_s,
                "imported": imported,
                "import_s": round(import_s, 1),
                "link_s": round(linking.elapsed_s, 1),
                "score_s": round(scoring.elapsed_s, 1),
                "link_rate": round(imported / linking.elapsed_s),
                "score_rate": round(imported / scoring.elapsed_s),
                "link_and_score_rate": round(imported / (linking.elapsed_s + scoring.elapsed_s)),
                "stop_listed": linking.keys_stopped,
                "alerts": linking.alerts_raised,
                "machine": machine(),
                "versions": versions(),
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            }
        )
    finally:
        database.dispose()
        if schema is not None and args.database and not args.schema:
            drop_schema(args.database, schema)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(render(figures))


def render(f: dict[str, Any]) -> str:
    links, tri, base = f["links"], f["triage"], f["baseline"]
    rows = [
        ("Reports imported / planted offenders", f"{f['imported']} / {f['offenders']}", ""),
        ("Offender links: pairwise precision", f"{links['precision']:.3f}", "≥ 0.98"),
        ("Offender links: pairwise recall", f"{links['recall']:.3f}", "≥ 0.95"),
        (
            "Offender links: recall of pairs the truth connects by a shared identifier",
            f"{links['recall'] / f['ceiling_recall']:.3f} (ceiling {f['ceiling_recall']:.3f})",
            "",
        ),
        ("Planted high-priority cases", f"{f['planted_p1']} (bands: {f['planted_bands']})", ""),
        (
            "Planted cases in the first 100 of their agency's queue (triage / arrival)",
            f"{f['agency_recall_triage']:.3f} / {f['agency_recall_baseline']:.3f}",
            "≥ 0.90",
        ),
        (
            "All-agency order: precision@100 (triage / arrival)",
            f"{tri['precision_at_k']:.3f} / {base['precision_at_k']:.3f}",
            "",
        ),
        (
            "All-agency order: recall@100 (triage / arrival)",
            f"{tri['recall_at_k']:.3f} / {base['recall_at_k']:.3f}",
            "",
        ),
        (
            "All-agency order: R-precision (triage / arrival)",
            f"{tri['r_precision']:.3f} / {base['r_precision']:.3f}",
            "",
        ),
        (
            "Cross-border offenders with a deconfliction alert",
            f"{f['cross_border_alerted']} of {f['cross_border_offenders']} "
            f"({f['linkable_cross_border']} linkable across agencies)",
            "",
        ),
        (
            "Deconfliction alerts raised / identifiers stop-listed",
            f"{f['alerts']} / {f['stop_listed']}",
            "",
        ),
        ("Bands", str(f["bands"]), ""),
        (f"Linking ({f['engine']})", f"{f['link_s']} s, {f['link_rate']} reports/s", ""),
        (f"Scoring ({f['engine']})", f"{f['score_s']} s, {f['score_rate']} reports/s", ""),
        ("Linking + scoring", f"{f['link_and_score_rate']} reports/s", ""),
    ]
    lines = ["| Measure | Value | Goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append(f"Machine: {f['machine']}; {f['versions']}; {f['date']}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
