"""Report matching: known / new version / new, content clusters, viral flag, the public doors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.media.conftest import add_report, flip_hex
from veille.cli import app
from veille.config import get_settings
from veille.media import content_clusters_by_report, media_signals_by_report
from veille.media.index import open_known_index
from veille.media.listformats import ListEntry
from veille.media.lists import import_list, remove_items
from veille.media.matching import match_query, match_reports
from veille.media.models import ContentCluster, MediaClassification
from veille.media.settings import MediaSettings
from veille.store.db import Database

P = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
Q = "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064"
R = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"
M = "d35c785545392755e7e4164457657269"


def _scenario(database: Database) -> dict[str, int]:
    with database.session() as session:
        import_list(
            session,
            "bank",
            [
                ListEntry(pdq=P, category="1", series="bridge", victim_identified=True),
                ListEntry(md5=M, category="2"),
            ],
            "csv",
        )
    ids = {
        "exact_md5": add_report(database, 1, [{"md5": M}]),
        "near_known": add_report(database, 2, [{"pdq": flip_hex(P, 10), "pdq_quality": 100}]),
        "same_pdq": add_report(database, 3, [{"pdq": P, "pdq_quality": 90}]),
        "new_a": add_report(database, 4, [{"pdq": Q, "pdq_quality": 100}], country="DE"),
        "new_b": add_report(
            database, 5, [{"pdq": flip_hex(Q, 4), "pdq_quality": 100}], source="esp-b"
        ),
        "low_quality": add_report(database, 6, [{"pdq": P, "pdq_quality": 30}]),
    }
    for number in range(5):
        ids[f"viral_{number}"] = add_report(
            database, 10 + number, [{"pdq": flip_hex(R, 2 * number), "pdq_quality": 100}],
            source=f"reporter-{number}", hours=number * 10.0,
        )  # fmt: skip
    return ids


def test_reports_are_classified_clustered_and_flagged(database: Database, tmp_path: Path) -> None:
    ids = _scenario(database)
    summary = match_reports(database, index_folder=tmp_path / "pdq")
    assert summary.media_items == 11
    assert (summary.clusters.known, summary.clusters.new_version) == (2, 1)
    assert summary.clusters.new == 8
    assert summary.clusters.viral_clusters == 1
    with database.session() as session:
        signals = media_signals_by_report(session, None)
        clusters = content_clusters_by_report(session)
        rows = {c.id: c for c in session.query(ContentCluster)}
    assert signals[ids["exact_md5"]].known == 1 and signals[ids["exact_md5"]].matched
    assert signals[ids["same_pdq"]].known == 1 and signals[ids["same_pdq"]].victim_identified_known
    near = signals[ids["near_known"]]
    assert (near.known, near.new_version, near.new, near.matched) == (0, 1, 0, True)
    assert near.victim_identified_known
    assert signals[ids["low_quality"]].new == 1 and not signals[ids["low_quality"]].matched
    assert clusters[ids["new_a"]] == clusters[ids["new_b"]]
    assert clusters[ids["near_known"]] == clusters[ids["same_pdq"]]
    new_cluster = rows[next(iter(clusters[ids["new_a"]]))]
    assert (new_cluster.report_count, new_cluster.reporter_count, new_cluster.country_count) == (
        2,
        2,
        2,
    )
    assert not new_cluster.known and not new_cluster.viral
    assert all(signals[ids[f"viral_{n}"]].viral for n in range(5))
    viral_cluster = rows[next(iter(clusters[ids["viral_0"]]))]
    assert viral_cluster.viral and viral_cluster.peak_reporters_in_window == 5
    assert not signals[ids["new_a"]].viral


def test_a_shorter_window_or_higher_bar_clears_the_viral_flag(
    database: Database, tmp_path: Path
) -> None:
    _scenario(database)
    summary = match_reports(
        database, settings=MediaSettings(viral_window_hours=20), index_folder=tmp_path / "pdq"
    )
    assert summary.clusters.viral_clusters == 0


def test_rematching_after_a_removal_downgrades_known_items(
    database: Database, tmp_path: Path
) -> None:
    ids = _scenario(database)
    match_reports(database, index_folder=tmp_path / "pdq")
    with database.session() as session:
        remove_items(session, "bank", [f"pdq:{P}"])
    match_reports(database, index_folder=tmp_path / "pdq")
    with database.session() as session:
        signals = media_signals_by_report(session, [ids["same_pdq"], ids["near_known"]])
    assert signals[ids["same_pdq"]].known == 0 and not signals[ids["same_pdq"]].matched
    assert signals[ids["near_known"]].new_version == 0


def test_matching_a_subset_keeps_other_reports_pairs(database: Database, tmp_path: Path) -> None:
    ids = _scenario(database)
    match_reports(database, index_folder=tmp_path / "pdq")
    again = match_reports(database, [ids["new_b"]], index_folder=tmp_path / "pdq")
    # Its edge to new_a was stored the first time: matching it again finds none to add.
    assert again.media_items == 1 and again.media_pairs == 0
    with database.session() as session:
        clusters = content_clusters_by_report(session, [ids["new_a"], ids["new_b"], ids["viral_3"]])
        count = session.query(MediaClassification).count()
    assert clusters[ids["new_a"]] == clusters[ids["new_b"]]
    assert len(clusters) == 3 and count == 11


def test_match_query_uses_per_list_thresholds_and_tops_up_the_index(
    database: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "pdq"
    with database.session() as session:
        import_list(session, "bank", [ListEntry(pdq=P, category="1")], "csv")
        assert [r.distance_bits for r in match_query(session, flip_hex(P, 30), folder)] == [30]
        assert (folder / "state.json").exists()
        from veille.media.lists import ListMetadata

        import_list(
            session,
            "strict",
            [ListEntry(pdq=flip_hex(P, 20))],
            "csv",
            ListMetadata(threshold_bits=10),
        )
        found = match_query(session, flip_hex(P, 24), folder)
        assert [(r.list_name, r.distance_bits) for r in found] == [("strict", 4), ("bank", 24)]
        assert len(open_known_index(session, folder).delta_item_ids) == 1
        assert match_query(session, f"md5:{M}", folder) == []


def test_cli_match_all_and_hash_queries(database: Database, pdq_reference_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    _scenario(database)
    result = runner.invoke(app, ["match", "--all", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["known"], record["new_version"], record["viral_clusters"]) == (2, 1, 1)
    assert (get_settings().resolved_index_dir() / "pdq" / "state.json").exists()
    photo = pdq_reference_dir / "bridge-mods-blur-a-lot.jpg"
    found = runner.invoke(app, ["match", str(photo), f"md5:{M}", "--json"])
    assert found.exit_code == 0, found.output
    rows = json.loads(found.stdout)
    assert [(r["list"], r["signal"], r["category"]) for r in rows] == [
        ("bank", "pdq", "1"),
        ("bank", "md5", "2"),
    ]
    assert rows[0]["distance"] == 4
    assert runner.invoke(app, ["match", "0" * 64]).exit_code == 1
    assert runner.invoke(app, ["match", "not-a-hash"]).exit_code == 2
    assert runner.invoke(app, ["match"]).exit_code == 2
