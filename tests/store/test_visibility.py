"""An agency sees what it owns, what is shared with it and what is clear; red never leaves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille.cli import app
from veille.intake.importer import import_reports
from veille.store.db import Database
from veille.store.models import Agency, AuditEvent, Report
from veille.store.reports import (
    ReportFilter,
    ReportNotFound,
    Viewer,
    get_report,
    list_reports,
    share_report,
)

runner = CliRunner()


@pytest.fixture
def world(database: Database, tmp_path: Path) -> dict[str, int]:
    """Reports owned by Police FR in every marking, plus one of Police DE."""
    with database.session() as session:
        make_agencies(session)
    records = [
        report_record(1, marking="amber"),
        report_record(2, marking="red"),
        report_record(3, marking="clear"),
        report_record(4, marking="green"),
        report_record(5, marking="amber", owner_agency="Police DE", stated_country="DE"),
    ]
    summary = import_reports(database, write_jsonl(tmp_path / "r.jsonl", records))
    ids = dict(
        zip(["amber", "red", "clear", "green", "de_amber"], summary.new_report_ids, strict=True)
    )
    with database.session() as session:
        agencies = {a.name: a.id for a in session.scalars(select(Agency))}
        owner = Viewer("owner", agencies["Police FR"])
        share_report(session, owner, ids["amber"], agencies["Police DE"])
        with pytest.raises(PermissionError):
            share_report(session, owner, ids["red"], agencies["Police DE"])
    return {**ids, **{f"agency:{k}": v for k, v in agencies.items()}}


def _visible_ids(database: Database, agency_id: int) -> set[int]:
    with database.session() as session:
        rows, total = list_reports(session, Viewer("t", agency_id), limit=100)
        assert total == len(rows)
        return {r.id for r in rows}


def test_each_agency_sees_exactly_what_the_rules_allow(
    database: Database, world: dict[str, int]
) -> None:
    fr, de, hotline = (
        world["agency:Police FR"],
        world["agency:Police DE"],
        world["agency:Hotline FR"],
    )
    assert _visible_ids(database, fr) == {
        world["amber"],
        world["red"],
        world["clear"],
        world["green"],
    }
    assert _visible_ids(database, de) == {world["amber"], world["clear"], world["de_amber"]}
    assert _visible_ids(database, hotline) == {world["clear"]}


def test_unshared_reports_cannot_be_read_one_by_one(
    database: Database, world: dict[str, int]
) -> None:
    with database.session() as session:
        viewer = Viewer("t", world["agency:Hotline FR"])
        for key in ("amber", "red", "green", "de_amber"):
            with pytest.raises(ReportNotFound):
                get_report(session, viewer, world[key])
        assert get_report(session, viewer, world["clear"]).id == world["clear"]


def test_filters_never_widen_visibility(database: Database, world: dict[str, int]) -> None:
    with database.session() as session:
        viewer = Viewer("t", world["agency:Hotline FR"])
        criteria = ReportFilter(owner_agency_id=world["agency:Police FR"], countries=["FR"])
        rows, _ = list_reports(session, viewer, criteria)
        assert [r.id for r in rows] == [world["clear"]]


def test_every_read_is_audited_including_refused_ones(
    database: Database, world: dict[str, int]
) -> None:
    result = runner.invoke(app, ["reports", "show", str(world["red"]), "--as", "Police DE"])
    assert result.exit_code == 1 and "not visible" in result.output, result.output
    result = runner.invoke(
        app, ["reports", "show", str(world["clear"]), "--as", "Police DE", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == world["clear"]
    with database.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "report.read", AuditEvent.actor == "test-analyst")
            .order_by(AuditEvent.id)
        ).all()
    assert [(e.object_id, e.success, e.actor, e.agency_id) for e in events] == [
        (str(world["red"]), False, "test-analyst", world["agency:Police DE"]),
        (str(world["clear"]), True, "test-analyst", world["agency:Police DE"]),
    ]


def test_cli_list_applies_visibility_and_filters(database: Database, world: dict[str, int]) -> None:
    result = runner.invoke(app, ["reports", "list", "--as", "Police DE", "--json"])
    assert result.exit_code == 0, result.output
    assert {r["id"] for r in json.loads(result.output)["reports"]} == {
        world["amber"],
        world["clear"],
        world["de_amber"],
    }
    result = runner.invoke(
        app, ["reports", "list", "--as", "Police DE", "--country", "de", "--json"]
    )
    assert [r["id"] for r in json.loads(result.output)["reports"]] == [world["de_amber"]]
    result = runner.invoke(
        app,
        [
            "reports",
            "list",
            "--all-agencies",
            "--category",
            "p2p",
            "--offence",
            "csam_possession",
            "--from",
            "2020-01-01",
            "--json",
        ],
    )
    assert json.loads(result.output)["total"] == 5
    result = runner.invoke(app, ["reports", "list"])
    assert result.exit_code == 2 and "--as" in result.output


def test_cli_table_output_names_the_columns(database: Database, world: dict[str, int]) -> None:
    result = runner.invoke(app, ["reports", "list", "--as", "Police FR"])
    assert result.exit_code == 0
    assert "4 of 4 reports" in result.output and "platform category" in result.output


def test_red_report_stays_with_owner_even_if_a_share_row_exists(
    database: Database, world: dict[str, int]
) -> None:
    from sqlalchemy import insert

    from veille.store.models import ReportShare

    with database.session() as session:
        session.execute(
            insert(ReportShare).values(report_id=world["red"], agency_id=world["agency:Police DE"])
        )
    assert world["red"] not in _visible_ids(database, world["agency:Police DE"])
    with database.session() as session:
        assert session.get(Report, world["red"]) is not None
