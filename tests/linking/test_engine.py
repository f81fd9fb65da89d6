"""Linking reports into case clusters: evidence, merges, the shared-IP trap, alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.linking.helpers import email, import_records, ip, make_world, record
from veille.linking.clusters import cluster_facts, cluster_of_report
from veille.linking.deconfliction import list_alerts
from veille.linking.engine import link_reports
from veille.linking.models import CaseCluster, ReportCluster, ReportLink, StopEntry
from veille.linking.stoplist import LinkLimits, add_stop_entries, parse_stop_key
from veille.store.db import Database


def _cluster(database: Database, report_id: int) -> int | None:
    with database.session() as session:
        return cluster_of_report(session, report_id)


def test_reports_sharing_an_email_alias_form_one_cluster_with_evidence(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("a", [email("J.Doe+one@gmail.com")]),
            record("b", [email("jdoe@googlemail.com")]),
            record("c", [email("someone.else@example.org")]),
        ],
    )
    summary = link_reports(database)
    assert summary.reports_linked == 3
    assert summary.links_recorded == 1
    assert _cluster(database, ids["a"]) == _cluster(database, ids["b"])
    assert _cluster(database, ids["c"]) != _cluster(database, ids["a"])
    with database.session() as session:
        link = session.scalars(select(ReportLink)).one()
        assert (link.report_id, link.other_report_id) == (ids["b"], ids["a"])
        assert link.evidence_kind == "identifier"
        assert link.key == "email:jdoe@gmail.com"
        facts = cluster_facts(session, [ids["a"], ids["c"]])
        assert facts[ids["a"]].size == 2
        assert facts[ids["c"]].size == 1


def test_an_address_seen_in_many_countries_is_a_shared_gateway(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    countries = ["FR", "DE", "BE", "NL"]
    ids = import_records(
        database,
        tmp_path,
        [
            record(f"v{n}", [ip("198.51.100.200")], derived_country=c)
            for n, c in enumerate(countries)
        ]
        + [record(f"h{n}", [ip("198.51.100.201")], derived_country="FR") for n in range(3)]
        # One offender's address in reports filed where his victims are: the stated
        # countries differ, the address's does not, so it still links.
        + [
            record(f"o{n}", [ip("198.51.100.202")], stated_country=c)
            for n, c in enumerate(countries)
        ],
    )
    summary = link_reports(database, limits=LinkLimits(max_countries_per_ip=2))
    assert summary.keys_stopped == 1
    assert _cluster(database, ids["v0"]) != _cluster(database, ids["v1"])
    assert _cluster(database, ids["h0"]) == _cluster(database, ids["h2"])
    assert len({_cluster(database, ids[f"o{n}"]) for n in range(4)}) == 1
    with database.session() as session:
        entry = session.scalars(select(StopEntry)).one()
    assert entry.key == "ip:198.51.100.200"
    assert "4 countries" in entry.reason


def test_shared_ip_trap_does_not_merge_unrelated_reports(
    database: Database, tmp_path: Path
) -> None:
    """One public address in 150 reports is stop-listed automatically; a CGNAT one never links."""
    make_world(database)
    records = [
        record(f"s{n}", [ip("203.0.113.77"), email(f"user{n}@example.com")]) for n in range(150)
    ]
    records += [record(f"c{n}", [ip("100.64.12.34")]) for n in range(3)]
    ids = import_records(database, tmp_path, records)
    summary = link_reports(database, limits=LinkLimits(max_reports_per_key=100))
    assert summary.links_recorded == 0
    assert summary.keys_stopped == 1
    with database.session() as session:
        assert session.scalar(select(func.max(CaseCluster.size))) == 1
        entry = session.scalars(select(StopEntry)).one()
        assert entry.key == "ip:203.0.113.77"
        assert entry.source == "auto"
        assert entry.report_count == 150
        assert "150 reports" in entry.reason
    assert _cluster(database, ids["c0"]) != _cluster(database, ids["c1"])


def test_a_new_report_merges_two_existing_clusters(database: Database, tmp_path: Path) -> None:
    make_world(database)
    first = import_records(
        database,
        tmp_path,
        [
            record("a1", [email("alpha@example.com")]),
            record("a2", [email("alpha@example.com")]),
            record("a3", [email("alpha@example.com")]),
            record("b1", [email("beta@example.com")]),
            record("b2", [email("beta@example.com")]),
        ],
    )
    link_reports(database)
    cluster_a = _cluster(database, first["a1"])
    cluster_b = _cluster(database, first["b1"])
    assert cluster_a != cluster_b
    ids = import_records(
        database,
        tmp_path,
        [record("bridge", [email("alpha@example.com"), email("beta@example.com")])],
    )
    summary = link_reports(database)
    assert summary.reports_linked == 1
    assert summary.clusters_merged == 2
    merged = _cluster(database, ids["bridge"])
    # The larger cluster keeps its id; every report of the smaller one moved.
    assert merged == cluster_a
    assert {_cluster(database, ids[name]) for name in ("a1", "a2", "a3", "b1", "b2")} == {merged}
    with database.session() as session:
        assert session.get(CaseCluster, cluster_b) is None
        assert session.get(CaseCluster, merged).size == 6
        keys = set(
            session.scalars(select(ReportLink.key).where(ReportLink.report_id == ids["bridge"]))
        )
    assert keys == {"email:alpha@example.com", "email:beta@example.com"}
    assert ids["a1"] in summary.affected_report_ids
    assert ids["b2"] in summary.affected_report_ids


def test_linking_is_incremental_and_rebuild_gives_the_same_clusters(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    import_records(
        database, tmp_path, [record(f"r{n}", [email(f"p{n % 4}@example.com")]) for n in range(12)]
    )
    assert link_reports(database).reports_linked == 12
    assert link_reports(database).reports_linked == 0
    with database.session() as session:
        before = sorted(
            session.execute(select(ReportCluster.report_id, ReportCluster.cluster_id)).all()
        )
    rebuilt = link_reports(database, rebuild=True)
    assert rebuilt.reports_linked == 12
    with database.session() as session:
        after = sorted(
            session.execute(select(ReportCluster.report_id, ReportCluster.cluster_id)).all()
        )
        assert session.scalar(select(func.count()).select_from(CaseCluster)) == 4
    assert before == after


def test_usernames_link_per_platform_and_profile_urls_link_to_handles(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("u1", [{"kind": "username", "value": "@Night_Owl", "platform": "Twitter"}]),
            record("u2", [{"kind": "url", "value": "https://x.com/night_owl"}]),
            record("u3", [{"kind": "username", "value": "night_owl", "platform": "Roblox"}]),
        ],
    )
    link_reports(database)
    assert _cluster(database, ids["u1"]) == _cluster(database, ids["u2"])
    assert _cluster(database, ids["u3"]) != _cluster(database, ids["u1"])


def test_manual_stop_entry_and_network_stop_linking(database: Database, tmp_path: Path) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("p1", [ip("198.51.100.9")]),
            record("p2", [ip("198.51.100.20")]),
            record("p3", [email("noreply@example.net")]),
            record("p4", [email("NoReply@example.net")]),
        ],
    )
    with database.session() as session:
        entries = {
            parse_stop_key("ip:198.51.100.0/24")[0]: ("proxy range of a provider", None),
            parse_stop_key("email:NoReply@Example.net")[0]: ("system sender", None),
        }
        assert add_stop_entries(session, entries, actor="test") == 2
    assert link_reports(database).links_recorded == 0
    assert _cluster(database, ids["p3"]) != _cluster(database, ids["p4"])


def test_cross_agency_cluster_alerts_both_agencies_and_leaves_red_out(
    database: Database, tmp_path: Path
) -> None:
    agencies = make_world(database)
    import_records(
        database,
        tmp_path,
        [
            record("fr", [email("shared@example.com")], owner_agency="Police FR"),
            record(
                "de", [email("shared@example.com")], owner_agency="Police DE", stated_country="DE"
            ),
            record("hot", [email("shared@example.com")], owner_agency="Hotline FR", marking="red"),
        ],
    )
    summary = link_reports(database)
    assert summary.alerts_raised == 2
    with database.session() as session:
        seen_by_fr = {alert.other_agency for alert in list_alerts(session, agencies["Police FR"])}
        seen_by_hotline = list_alerts(session, agencies["Hotline FR"])
        messages = [a.message for a in list_alerts(session, agencies["Police DE"])]
    # The hotline's only report is red: it is in no shared cluster, so it is
    # neither named to the others nor told about them.
    assert seen_by_fr == {"Police DE"}
    assert seen_by_hotline == []
    assert not any("Hotline FR" in message or "restricted" in message for message in messages)


def test_alerts_follow_a_merge_without_duplicates(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    import_records(
        database,
        tmp_path,
        [
            record("x1", [email("x@example.com")], owner_agency="Police FR"),
            record("x2", [email("x@example.com")], owner_agency="Police DE"),
            record("y1", [email("y@example.com")], owner_agency="Police FR"),
            record("y2", [email("y@example.com")], owner_agency="Police DE"),
        ],
    )
    assert link_reports(database).alerts_raised == 4
    import_records(
        database, tmp_path, [record("xy", [email("x@example.com"), email("y@example.com")])]
    )
    link_reports(database)
    with database.session() as session:
        alerts = list_alerts(session, agencies["Police FR"])
    assert len(alerts) == 1
    assert alerts[0].other_agency == "Police DE"


def test_content_clusters_link_reports_and_viral_content_does_not(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(database, tmp_path, [record(f"m{n}", []) for n in range(6)])
    content = {ids["m0"]: {7}, ids["m1"]: {7}, **{ids[f"m{n}"]: {99} for n in range(2, 6)}}
    summary = link_reports(
        database,
        limits=LinkLimits(max_reports_per_content=3),
        content_source=lambda session, report_ids: content,
    )
    assert summary.links_recorded == 1
    assert _cluster(database, ids["m0"]) == _cluster(database, ids["m1"])
    assert _cluster(database, ids["m2"]) != _cluster(database, ids["m3"])
    with database.session() as session:
        link = session.scalars(select(ReportLink)).one()
        stopped = session.scalars(select(StopEntry.key)).all()
    assert (link.evidence_kind, link.key) == ("content", "content:7")
    assert stopped == ["content:99"]


def test_media_content_clusters_are_used_when_media_offers_them(
    database: Database, tmp_path: Path
) -> None:
    media = pytest.importorskip("veille.media")
    if not hasattr(media, "content_clusters_by_report"):
        pytest.skip("veille.media has no content_clusters_by_report yet")
    make_world(database)
    import_records(database, tmp_path, [record("solo", [])])
    with database.session() as session:
        expected = media.content_clusters_by_report(session, None)
    summary = link_reports(database, content_source=True)
    assert summary.reports_linked == 1
    assert expected == {}


def test_a_red_report_never_bridges_other_agencies_reports(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "red",
                [email("bridge@example.com"), ip("203.0.113.77")],
                owner_agency="Hotline FR",
                marking="red",
            ),
            record("red-too", [ip("203.0.113.77")], owner_agency="Hotline FR", marking="red"),
            record("de", [email("bridge@example.com")], owner_agency="Police DE"),
            record("fr", [ip("203.0.113.77")], owner_agency="Police FR", marking="clear"),
            record("own", [ip("203.0.113.77")], owner_agency="Hotline FR"),
        ],
    )
    summary = link_reports(database)
    # Only the two red reports of the hotline link; "de" and "fr" would have
    # been joined through the red report. The hotline's amber report links
    # with "fr" on the shared address, not with its red reports.
    assert _cluster(database, ids["red"]) == _cluster(database, ids["red-too"])
    assert _cluster(database, ids["de"]) != _cluster(database, ids["fr"])
    assert _cluster(database, ids["own"]) == _cluster(database, ids["fr"])
    assert _cluster(database, ids["red"]) not in {
        _cluster(database, ids[name]) for name in ("de", "fr", "own")
    }
    assert summary.links_recorded == 2
