"""Content clusters kept up to date batch by batch give what a rebuild from scratch gives,
and a batch's work does not grow with the copies already matched."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from tests.media.conftest import add_report, flip_hex
from veille.media.listformats import ListEntry
from veille.media.lists import import_list, remove_items
from veille.media.matching import match_reports
from veille.media.models import ContentCluster, MediaClassification, MediaMatch, ReportedHash
from veille.media.settings import MediaSettings
from veille.store.db import Database

BASES = [
    "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
    "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
    "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d",
]
SETTINGS = MediaSettings(viral_min_reporters=3, viral_window_hours=24)


def _state(database: Database) -> dict[frozenset[int], tuple[Any, ...]]:
    """Each cluster, keyed by its members: its counts, flags and its members' labels."""
    with database.session() as session:
        members: dict[int, set[int]] = {}
        labels: dict[int, str] = {}
        for media_id, cluster_id, label in session.execute(
            select(
                MediaClassification.media_item_id,
                MediaClassification.cluster_id,
                MediaClassification.classification,
            )
        ):
            members.setdefault(cluster_id, set()).add(media_id)
            labels[media_id] = label
        state = {}
        for cluster in session.scalars(select(ContentCluster)):
            key = frozenset(members[cluster.id])
            state[key] = (
                cluster.media_count, cluster.report_count, cluster.reporter_count,
                cluster.country_count, cluster.known, cluster.viral,
                cluster.peak_reporters_in_window, cluster.first_received_at,
                cluster.last_received_at, tuple(sorted(labels[m] for m in key)),
            )  # fmt: skip
        assert sum(len(k) for k in state) == len(labels)
    return state


def _random_world(database: Database, seed: int) -> list[int]:
    """Reports with near and far versions of three images, identical copies, exact hashes,
    several sources and countries, spread over more than a viral window."""
    chooser = random.Random(seed)
    with database.session() as session:
        import_list(
            session,
            "bank",
            [ListEntry(pdq=flip_hex(BASES[0], 6)), ListEntry(md5="ab" * 16)],
            "csv",
        )
    ids = []
    for number in range(60):
        media = []
        for _ in range(chooser.choice([1, 1, 2])):
            base = chooser.randrange(len(BASES))
            bits = chooser.choice([0, 0, 3, 12, 25, 40, 70])
            item: dict[str, object] = {"pdq": flip_hex(BASES[base], bits), "pdq_quality": 100}
            if base == 0 and chooser.random() < 0.1:
                item["md5"] = "ab" * 16
            if chooser.random() < 0.2:
                item["sha256"] = f"{base}{chooser.randrange(2)}".rjust(64, "0")
            media.append(item)
        ids.append(
            add_report(
                database,
                number,
                media,
                source=f"source-{chooser.randrange(5)}",
                country=chooser.choice(["FR", "DE", "BE"]),
                hours=chooser.uniform(0, 100),
            )
        )
    return ids


def test_batches_in_any_order_give_what_a_rebuild_gives(database: Database, tmp_path: Path) -> None:
    for seed in range(3):
        ids = _random_world(database, seed)
        chooser = random.Random(100 + seed)
        chooser.shuffle(ids)
        while ids:
            size = chooser.randint(1, 9)
            batch, ids = ids[:size], ids[size:]
            match_reports(database, batch, SETTINGS, tmp_path / "pdq")
        # A report matched again (its known edges recomputed) changes nothing.
        match_reports(database, [1, 2, 3], SETTINGS, tmp_path / "pdq")
        grown = _state(database)
        match_reports(database, None, SETTINGS, tmp_path / "pdq")
        assert grown == _state(database), f"seed {seed}"
        assert any(key[4] for key in grown.values())  # a known cluster
        assert any(key[5] for key in grown.values())  # a viral one
        assert any(len(members) > 3 for members in grown)
        _empty(database)


def _empty(database: Database) -> None:
    from tests.conftest import empty_all_tables

    empty_all_tables(database)


def test_a_removed_list_item_splits_its_cluster_as_a_rebuild_would(
    database: Database, tmp_path: Path
) -> None:
    known = flip_hex(BASES[0], 20)
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=known)], "csv")
    # a and b are each 20 bits from the known item and 40 from each other: only the
    # known item holds them together; c is near both a and b.
    a = add_report(database, 1, [{"pdq": BASES[0], "pdq_quality": 100}])
    b = add_report(database, 2, [{"pdq": flip_hex(BASES[0], 40), "pdq_quality": 100}])
    match_reports(database, [a, b], SETTINGS, tmp_path / "pdq")
    c = add_report(database, 3, [{"pdq": flip_hex(BASES[0], 20), "pdq_quality": 100}])
    far = add_report(database, 4, [{"pdq": BASES[1], "pdq_quality": 100}])
    match_reports(database, [c, far], SETTINGS, tmp_path / "pdq")
    with database.session() as session:
        remove_items(session, "bank", [f"pdq:{known}"])
    summary = match_reports(database, [a, b, c, far], SETTINGS, tmp_path / "pdq")
    after_subset = _state(database)
    match_reports(database, None, SETTINGS, tmp_path / "pdq")
    assert after_subset == _state(database)
    assert sorted(len(members) for members in after_subset) == [1, 3]
    assert not any(value[4] for value in after_subset.values())
    assert summary.clusters.known == 0


def test_copies_of_one_image_add_one_edge_each_and_one_value(
    database: Database, tmp_path: Path
) -> None:
    copy = {"pdq": BASES[1], "pdq_quality": 100, "sha256": "cd" * 32}
    for number in range(40):
        report_id = add_report(database, number, [dict(copy)], source=f"s{number % 7}")
        match_reports(database, [report_id], SETTINGS, tmp_path / "pdq")
    with database.session() as session:
        edges = session.scalar(select(func.count()).select_from(MediaMatch))
        values = session.scalar(select(func.count()).select_from(ReportedHash))
        (cluster,) = session.scalars(select(ContentCluster))
    assert (edges, values) == (39, 2)
    # No reported account: each report is its own sharer.
    assert (cluster.media_count, cluster.report_count, cluster.reporter_count) == (40, 40, 40)


def _cost_of_matching(database: Database, report_id: int, folder: Path) -> tuple[int, int]:
    """Statements run, and rows they returned or changed as the driver counts them
    (PostgreSQL counts the rows of a SELECT; SQLite only those a write changed)."""
    statements, rows = 0, 0

    def counted(_conn: Any, cursor: Any, *_args: Any) -> None:
        nonlocal statements, rows
        statements += 1
        rows += max(cursor.rowcount or 0, 0)

    event.listen(database.engine, "after_cursor_execute", counted)
    try:
        match_reports(database, [report_id], SETTINGS, folder)
    finally:
        event.remove(database.engine, "after_cursor_execute", counted)
    return statements, rows


def test_a_batch_costs_the_same_whatever_the_copies_before_it(
    database: Database, tmp_path: Path
) -> None:
    """The 20th and the 200th copy of an image cost a batch the same statements and rows."""
    copy = {"pdq": BASES[2], "pdq_quality": 100}
    costs = {}
    for number in range(1, 201):
        report_id = add_report(database, number, [dict(copy)], source=f"s{number % 3}")
        if number in (20, 200):
            costs[number] = _cost_of_matching(database, report_id, tmp_path / "pdq")
        else:
            match_reports(database, [report_id], SETTINGS, tmp_path / "pdq")
    assert costs[200] == costs[20], costs
    with database.session() as session:
        (cluster,) = session.scalars(select(ContentCluster))
    assert (cluster.media_count, cluster.reporter_count, cluster.viral) == (200, 200, True)


def test_a_cluster_turning_known_names_its_earlier_reports(
    database: Database, tmp_path: Path
) -> None:
    first = add_report(database, 1, [{"pdq": BASES[0], "pdq_quality": 100}])
    second = add_report(database, 2, [{"pdq": flip_hex(BASES[0], 30), "pdq_quality": 100}])
    match_reports(database, [first, second], SETTINGS, tmp_path / "pdq")
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=flip_hex(BASES[0], 50))], "csv")
    # The known item is 50 bits from the first, 20 from the second; the third is it.
    third = add_report(database, 3, [{"pdq": flip_hex(BASES[0], 50), "pdq_quality": 100}])
    summary = match_reports(database, [third], SETTINGS, tmp_path / "pdq")
    assert {first, second} <= summary.changed_reports
    with database.session() as session:
        labels = {
            report_id: label
            for report_id, label in session.execute(
                select(MediaClassification.report_id, MediaClassification.classification)
            )
        }
    assert labels == {first: "new_version", second: "new_version", third: "known"}
