"""Referral to the competent agency, bulk referral of a cluster, both sides see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.linking.helpers import email, import_records, make_world, record
from veille.linking.clusters import cluster_of_report, public_cluster_ids
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.store.models import ReportShare
from veille.store.reports import ReportNotFound, Viewer, get_report
from veille.triage.models import QueueItem, QueueState
from veille.triage.queue import queue_for
from veille.triage.referral import (
    ReferralError,
    acknowledge_referral,
    competent_agency,
    list_referrals,
    refer_cluster,
    refer_report,
)
from veille.triage.scoring import score_reports


def test_report_goes_to_the_police_of_its_derived_country_and_both_see_it(
    database: Database, tmp_path: Path
) -> None:
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "tip", [], owner_agency="Hotline FR", derived_country="DE", flags=["ongoing_access"]
            )
        ],
    )
    score_reports(database, media_source=None)
    hotline = Viewer("hotline-analyst", agencies["Hotline FR"])
    with database.session() as session:
        report = get_report(session, hotline, ids["tip"])
        competence = competent_agency(session, report)
        assert competence.agency.name == "Police DE"
        assert "derived country DE (Germany) from provided" in competence.reason
        referral = refer_report(session, hotline, ids["tip"])
        assert referral.shared
        again = refer_report(session, hotline, ids["tip"])
        assert again.id == referral.id
    de = Viewer("de-analyst", agencies["Police DE"])
    with database.session() as session:
        assert get_report(session, de, ids["tip"]).id == ids["tip"]
        incoming = list_referrals(session, agencies["Police DE"], direction="in")
        outgoing = list_referrals(session, agencies["Hotline FR"], direction="out")
        assert [r["id"] for r in incoming] == [r["id"] for r in outgoing] == [referral.id]
        assert incoming[0]["from"] == "Hotline FR"
        own = session.get(QueueItem, (agencies["Hotline FR"], ids["tip"]))
        assert own is not None and own.state is QueueState.REFERRED
        queue = queue_for(session, agencies["Police DE"], "de-analyst")
        assert [i["report_id"] for i in queue.items] == [ids["tip"]]
        with pytest.raises(LookupError):
            acknowledge_referral(session, hotline, referral.id)
        assert acknowledge_referral(session, de, referral.id) is not None
    with database.session() as session:
        assert list_referrals(session, agencies["Hotline FR"])[0]["acknowledged_at"] is not None


def test_red_report_is_referred_but_not_shared(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    ids = import_records(
        database, tmp_path, [record("red", [], derived_country="DE", marking="red")]
    )
    fr = Viewer("fr", agencies["Police FR"])
    with database.session() as session:
        referral = refer_report(session, fr, ids["red"])
        assert referral.shared is False
        assert session.scalars(select(ReportShare)).all() == []
    with database.session() as session:
        rows = list_referrals(session, agencies["Police DE"], direction="in")
        assert rows[0]["report_visible"] is False
        with pytest.raises(ReportNotFound):
            get_report(session, Viewer("de", agencies["Police DE"]), ids["red"])


def test_only_the_owner_refers_and_never_to_itself(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("fr-own", [], derived_country="FR", marking="clear"),
            record("nowhere", [], stated_country=None),
        ],
    )
    with database.session() as session:
        with pytest.raises(ReferralError, match="already owns it"):
            refer_report(session, Viewer("fr", agencies["Police FR"]), ids["fr-own"])
        with pytest.raises(ReferralError, match="only its owning agency"):
            refer_report(session, Viewer("de", agencies["Police DE"]), ids["fr-own"])
        with pytest.raises(ReferralError, match="no derived country"):
            refer_report(session, Viewer("fr", agencies["Police FR"]), ids["nowhere"])


def test_bulk_referral_of_a_cluster_and_fallback_to_coordination(
    database: Database, tmp_path: Path
) -> None:
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("c1", [email("ring@example.com")], derived_country="DE"),
            record("c2", [email("ring@example.com")], derived_country="AT"),
            record("c3", [email("ring@example.com")], derived_country="FR"),
            record(
                "c4", [email("ring@example.com")], owner_agency="Police DE", stated_country="DE"
            ),
        ],
    )
    link_reports(database)
    fr = Viewer("fr", agencies["Police FR"])
    with database.session() as session:
        cluster = cluster_of_report(session, ids["c1"])
        assert cluster is not None
        public_id = public_cluster_ids(session, [cluster])[cluster]
        result = refer_cluster(session, fr, public_id)
        targets = {r.report_id: r.to_agency_id for r in result.referred}
        assert targets == {ids["c1"]: agencies["Police DE"], ids["c2"]: agencies["Coordination"]}
        assert [report_id for report_id, _ in result.skipped] == [ids["c3"]]
        assert all(r.cluster_id == cluster for r in result.referred)
        assert "no police unit for AT" in result.referred[1].reason
