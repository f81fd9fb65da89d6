"""The media part of ``veille demo``: hash the benign images, import the lists, match.

It hashes the scenario's procedural images for real (the same path as
``veille hash``), imports the scenario's known-content list (as
``veille lists import`` does), matches every stored report (as
``veille match --all``) and prints known / new version / new and the top viral
clusters, with the truth beside what was found.
"""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import func, select

from veille.demo import DemoContext, DemoSection
from veille.media.hashrun import hash_paths, iter_files
from veille.media.listformats import parse_list
from veille.media.lists import ListMetadata, import_list
from veille.media.matching import match_reports
from veille.media.models import ContentCluster, MediaClassification


def _truth_roles(context: DemoContext) -> dict[str, str]:
    path = context.scenario / "truth" / "images.jsonl"
    if not path.exists():
        return {}
    roles = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        roles[str(record["file"])] = str(record["role"])
    return roles


def step_media(context: DemoContext) -> DemoSection:
    """Hash images, import the hash list, match every report, summarise."""
    files = list(iter_files([context.scenario / "media"]))
    hashed = list(hash_paths(files))
    errors = sum(1 for result in hashed if result.error)
    with_pdq = sum(1 for result in hashed if result.pdq)
    list_path = context.scenario / "hashlists" / "known-content.csv"
    entries = parse_list(list_path.read_text(encoding="utf-8"), "csv")
    with context.database.session() as session:
        imported = import_list(
            session,
            "synthetic-known-content",
            entries,
            "csv",
            ListMetadata(source="veille synth", licence="synthetic, benign"),
        )
    summary = match_reports(context.database)
    with context.database.session() as session:
        classes = dict(
            session.execute(
                select(MediaClassification.classification, func.count()).group_by(
                    MediaClassification.classification
                )
            ).all()
        )
        viral = session.execute(
            select(
                ContentCluster.id,
                ContentCluster.report_count,
                ContentCluster.reporter_count,
                ContentCluster.country_count,
                ContentCluster.known,
            )
            .where(ContentCluster.viral.is_(True))
            .order_by(ContentCluster.reporter_count.desc())
            .limit(3)
        ).all()
        viral_total = session.scalar(
            select(func.count()).select_from(ContentCluster).where(ContentCluster.viral.is_(True))
        )
    roles = Counter(_truth_roles(context).values())
    lines = [
        f"images hashed: {len(hashed)} ({with_pdq} with PDQ, {errors} errors); "
        "planted: " + ", ".join(f"{role} {count:,}" for role, count in sorted(roles.items())),
        f"hash list 'synthetic-known-content': {imported.created} items added",
        f"media items matched: {summary.media_items:,}; known-content matches "
        f"{summary.known_matches:,}; near-duplicate pairs among reports {summary.media_pairs:,}",
        "classification: "
        + ", ".join(f"{name} {classes.get(name, 0):,}" for name in ("known", "new_version", "new")),
        f"viral clusters: {viral_total}",
    ]
    lines += [
        f"  cluster {row.id}: {row.report_count} reports from {row.reporter_count} reporters "
        f"in {row.country_count} countries{' (known content)' if row.known else ''}"
        for row in viral
    ]
    return DemoSection("media: hashing, hash lists, matching", lines)


DEMO_STEPS = (step_media,)
