"""Rollups kept by the flow, series read from them, and what each agency may count."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import make_agencies, report_record, write_jsonl
from veille.analytics.models import ReportCount, RolledReport
from veille.analytics.rollup import rebuild, roll_up
from veille.analytics.series import SeriesError, SeriesQuery, series
from veille.flow import run_now
from veille.intake.importer import import_reports
from veille.store.db import Database
from veille.store.models import Report, ReportShare


def _import(database: Database, tmp_path: Path, records: list[dict[str, Any]]) -> list[int]:
    path = write_jsonl(tmp_path / f"r{len(records)}-{records[0]['external_id']}.jsonl", records)
    return import_reports(database, path).new_report_ids


def _world(database: Database, tmp_path: Path) -> dict[str, int]:
    with database.session() as session:
        agencies = {name: a.id for name, a in make_agencies(session).items()}
    records = []
    # 2020-03-02 and 2020-03-09 are Mondays; 2020-04-01 opens a month.
    for number, (day, country, category, marking, owner, flags) in enumerate(
        [
            ("2020-03-02", "FR", "p2p", "amber", "Police FR", ["hands_on_abuse"]),
            ("2020-03-08", "FR", "p2p", "clear", "Police FR", []),
            ("2020-03-09", "FR", "messaging", "amber", "Police FR", []),
            ("2020-03-10", "DE", "p2p", "amber", "Police DE", ["self_generated"]),
            ("2020-03-11", "DE", "p2p", "red", "Police DE", []),
            ("2020-03-23", "DE", "messaging", "green", "Police DE", []),
            ("2020-04-01", "FR", "p2p", "clear", "Police FR", []),
        ]
    ):
        records.append(
            report_record(
                number,
                received_at=f"{day}T23:30:00Z",
                stated_country=country,
                platform_category=category,
                marking=marking,
                owner_agency=owner,
                flags=flags,
                offence_types=["csam_distribution"] if number % 2 else ["grooming", "sextortion"],
                identifiers=[],
                media=[],
            )
        )
    _import(database, tmp_path, records)
    return agencies


def test_the_flow_counts_every_report_once(database: Database, tmp_path: Path) -> None:
    _world(database, tmp_path)
    with database.session() as session:
        ids = list(session.scalars(select(Report.id)))
    run_now(database, ids)
    run_now(database, ids)  # a second run counts nothing more
    assert roll_up(database).reports == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RolledReport)) == 7
        weekly_total = session.scalar(
            select(func.sum(ReportCount.count)).where(
                ReportCount.grain == "w", ReportCount.label_kind == "all"
            )
        )
    assert weekly_total == 7


def test_weekly_and_monthly_series_split_by_country(database: Database, tmp_path: Path) -> None:
    _world(database, tmp_path)
    roll_up(database)
    with database.session() as session:
        weekly = series(session, SeriesQuery(by=("country",)), None)
        monthly = series(session, SeriesQuery(grain="month"), None)
    assert weekly.periods[0] == date(2020, 3, 2) and weekly.periods[-1] == date(2020, 3, 30)
    by_country = {s.key: s.counts for s in weekly.series}
    # Sunday 2020-03-08 23:30 UTC still belongs to the week of Monday 2 March.
    assert by_country[("FR",)] == [2, 1, 0, 0, 1]
    assert by_country[("DE",)] == [0, 2, 0, 1, 0]
    assert monthly.periods == [date(2020, 3, 1), date(2020, 4, 1)]
    assert monthly.series[0].counts == [6, 1]
    assert weekly.marking == "red"


def test_offence_and_flag_labels_count_each_report_once_per_label(
    database: Database, tmp_path: Path
) -> None:
    _world(database, tmp_path)
    roll_up(database)
    with database.session() as session:
        offences = series(session, SeriesQuery(by=("offence",)), None)
        grooming = series(session, SeriesQuery(offences=("grooming",), countries=("FR",)), None)
        flags = series(session, SeriesQuery(flags=("hands_on_abuse", "self_generated")), None)
        with pytest.raises(SeriesError, match="offence and flag"):
            SeriesQuery(offences=("grooming",), by=("flag",))
    totals = {s.key: s.total for s in offences.series}
    assert totals == {("csam_distribution",): 3, ("grooming",): 4, ("sextortion",): 4}
    assert grooming.series[0].total == 3
    assert flags.series[0].total == 2


def test_an_agency_counts_only_what_it_may_see(database: Database, tmp_path: Path) -> None:
    agencies = _world(database, tmp_path)
    roll_up(database)
    with database.session() as session:
        red_id = session.scalar(select(Report.id).where(Report.marking == "red"))
        amber_de = session.scalar(
            select(Report.id).where(Report.marking == "amber", Report.stated_country == "DE")
        )
        # Shared with Police FR: the amber report counts for it, the red one never does.
        session.add_all(
            [
                ReportShare(report_id=amber_de, agency_id=agencies["Police FR"]),
                ReportShare(report_id=red_id, agency_id=agencies["Police FR"]),
            ]
        )
    with database.session() as session:
        police_fr = series(session, SeriesQuery(by=("country",)), agencies["Police FR"])
        hotline = series(session, SeriesQuery(), agencies["Hotline FR"])
        police_de = series(session, SeriesQuery(), agencies["Police DE"])
    fr_totals = {s.key: s.total for s in police_fr.series}
    assert fr_totals == {("FR",): 4, ("DE",): 1}
    assert hotline.series[0].total == 2  # the two clear reports
    assert police_de.series[0].total == 3 + 2  # its own three and the two clear ones
    assert hotline.marking == "clear"
    assert police_fr.marking == "amber"


def test_rebuild_gives_the_same_counts(database: Database, tmp_path: Path) -> None:
    _world(database, tmp_path)
    roll_up(database)
    with database.session() as session:
        before = sorted(tuple(r) for r in session.execute(select(ReportCount.__table__)))
    summary = rebuild(database)
    with database.session() as session:
        after = sorted(tuple(r) for r in session.execute(select(ReportCount.__table__)))
    assert summary.reports == 7
    assert before == after


def test_no_reports_gives_an_empty_series(database: Database) -> None:
    with database.session() as session:
        result = series(session, SeriesQuery(since=date(2020, 1, 1), until=date(2020, 1, 31)), None)
    assert len(result.periods) == 5
    assert result.series[0].counts == [0] * 5


def test_unique_and_new_content_beside_volume(database: Database, tmp_path: Path) -> None:
    from veille.analytics.content import content_series
    from veille.pipeline import process_new_reports

    with database.session() as session:
        agencies = {name: a.id for name, a in make_agencies(session).items()}
    same = {"file_name": "a.jpg", "md5": "a" * 32, "pdq": "f" * 64, "pdq_quality": 90}
    records = [
        # Week of 2 March: two reports of one item, one of another.
        report_record(1, received_at="2020-03-02T10:00:00Z", media=[same], marking="clear"),
        report_record(
            2,
            received_at="2020-03-03T10:00:00Z",
            media=[{**same, "md5": "b" * 32}],
            marking="clear",
        ),
        report_record(
            3,
            received_at="2020-03-04T10:00:00Z",
            marking="clear",
            media=[{"file_name": "c.jpg", "md5": "c" * 32, "pdq": "0f" * 32, "pdq_quality": 90}],
        ),
        # Week of 9 March: the first item again (not new), and a red report of Police DE.
        report_record(
            4,
            received_at="2020-03-10T10:00:00Z",
            media=[{**same, "md5": "d" * 32}],
            marking="clear",
        ),
        report_record(
            5,
            received_at="2020-03-10T11:00:00Z",
            marking="red",
            owner_agency="Police DE",
            media=[{"file_name": "e.jpg", "md5": "e" * 32, "pdq": "3c" * 32, "pdq_quality": 90}],
        ),
    ]
    ids = _import(database, tmp_path, records)
    process_new_reports(database, ids)
    with database.session() as session:
        admin = content_series(session, SeriesQuery(), None).rows
        hotline = content_series(session, SeriesQuery(), agencies["Hotline FR"]).rows
    assert [(r["reports"], r["unique_content"], r["new_content"]) for r in admin] == [
        (3, 2, 2),
        (2, 2, 1),
    ]
    assert admin[0]["viral_share"] == 0.0
    # The hotline sees the clear reports only: no red item, no viral share.
    assert [(r["reports"], r["unique_content"], r["new_content"]) for r in hotline] == [
        (3, 2, 2),
        (1, 1, 0),
    ]
    assert hotline[0]["viral_share"] is None


def test_counts_in_small_chunks_equal_a_count_made_row_by_row(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-statement upsert against a count made here from each stored report."""
    from collections import Counter
    from datetime import timedelta

    from veille.analytics import rollup
    from veille.store.models import ReportFlagRow, ReportOffence

    _world(database, tmp_path)
    # Five more reports of one key (one week, country, category, reporter, owner,
    # marking), so that chunks of two add to counts stored by the chunks before.
    _import(
        database,
        tmp_path,
        [
            report_record(
                100 + n, received_at=f"2020-05-0{4 + n}T09:00:00Z", identifiers=[], media=[]
            )
            for n in range(5)
        ],
    )
    monkeypatch.setattr(rollup, "CHUNK_SIZE", 2)
    assert roll_up(database).reports == 12
    expected: Counter[tuple[Any, ...]] = Counter()
    with database.session() as session:
        for report in session.scalars(select(Report)):
            day = report.received_at.date()
            labels = [("all", "")]
            labels += [
                ("offence", o)
                for o in session.scalars(
                    select(ReportOffence.offence_type).where(ReportOffence.report_id == report.id)
                )
            ]
            labels += [
                ("flag", f)
                for f in session.scalars(
                    select(ReportFlagRow.flag).where(ReportFlagRow.report_id == report.id)
                )
            ]
            country = report.derived_country or report.stated_country or "--"
            for grain, period in (
                ("w", day - timedelta(days=day.weekday())),
                ("m", day.replace(day=1)),
            ):
                for kind, label in labels:
                    key = (grain, period, country, report.platform_category, report.channel)
                    key += (report.reporter_kind, kind, label, report.owner_agency_id)
                    expected[(*key, report.marking)] += 1
        stored = {
            tuple(row[:-1]): row[-1] for row in session.execute(select(ReportCount.__table__))
        }
    assert stored == dict(expected)
