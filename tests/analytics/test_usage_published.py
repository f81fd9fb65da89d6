"""Database usage (imported and audited) and counts published by others."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille.analytics.models import PublishedCount, UsageEvent
from veille.analytics.periods import Period, PeriodSet
from veille.analytics.usage import usage
from veille.cli import app
from veille.intake.credentials import create_api_key
from veille.intake.importer import import_reports
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.web import create_app

runner = CliRunner()
MONDAY = date(2020, 1, 6)
PERIODS = PeriodSet(
    (
        Period("baseline", MONDAY, MONDAY + timedelta(days=7 * 8 - 1)),
        Period("restrictions", MONDAY + timedelta(days=7 * 8), MONDAY + timedelta(days=7 * 12 - 1)),
    ),
    {
        "DE": (
            Period(
                "restrictions", MONDAY + timedelta(days=7 * 10), MONDAY + timedelta(days=7 * 12 - 1)
            ),
        )
    },
)


def _events(agency: str, weeks: range, per_week: int, start: int) -> list[dict[str, object]]:
    events = []
    for week in weeks:
        for n in range(per_week):
            at = datetime.combine(MONDAY + timedelta(days=7 * week + 1), datetime.min.time())
            events.append(
                {
                    "event_id": f"EV-{start + len(events):06d}",
                    "agency": agency,
                    "user": "analyst1.fr",
                    "action": ("login", "query", "upload")[n % 3],
                    "items": 1,
                    "at": (at + timedelta(hours=n)).isoformat() + "Z",
                }
            )
    return events


def test_stopped_reduced_and_continued_users(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
    events = [
        *_events("Police FR", range(0, 8), 10, 0),  # stops during restrictions
        *_events("Hotline FR", range(0, 12), 10, 1000),  # continues
        *_events("Hotline FR", range(8, 12), 0, 2000),
        *_events("Police DE", range(0, 10), 10, 3000),  # its restrictions start later
        *_events("Police DE", range(10, 12), 3, 4000),  # and it keeps 30 %
    ]
    path = write_jsonl(tmp_path / "usage.jsonl", events)
    first = runner.invoke(app, ["trends", "import-usage", str(path), "--json"])
    again = runner.invoke(app, ["trends", "import-usage", str(path), "--json"])
    assert json.loads(first.output)["imported"] == len(events)
    assert json.loads(again.output) == {
        "lines": len(events),
        "imported": 0,
        "already_present": len(events),
    }
    with database.session() as session:
        result = usage(session, PERIODS).as_dict()
    status = {a["agency"]: a["status"] for a in result["agencies"]}
    assert status == {"Police FR": "stopped", "Hotline FR": "continued", "Police DE": "reduced"}
    assert (result["regular_users"], result["stopped_or_reduced"]) == (3, 2)
    chart = tmp_path / "usage.svg"
    own = runner.invoke(
        app,
        [
            "trends",
            "usage",
            "--as",
            "Police DE",
            "--json",
            "--chart",
            str(chart),
            "--period",
            f"baseline={MONDAY}..{MONDAY + timedelta(days=55)}",
            "--period",
            f"restrictions={MONDAY + timedelta(days=56)}..{MONDAY + timedelta(days=83)}",
        ],
    )
    assert [a["agency"] for a in json.loads(own.stdout)["agencies"]] == ["Police DE"]
    assert "<svg" in chart.read_text()
    with database.session() as session:
        _, key = create_api_key(session, "Police DE", ["reports:read"])
    periods = [
        f"baseline={MONDAY}..{MONDAY + timedelta(days=55)}",
        f"restrictions={MONDAY + timedelta(days=56)}..{MONDAY + timedelta(days=83)}",
    ]
    with TestClient(create_app(database)) as client:
        answer = client.get(
            "/api/v1/analytics/usage", params={"period": periods}, headers={"X-API-Key": key}
        )
        wrong = client.get(
            "/api/v1/analytics/usage",
            params={"period": periods, "compare": "holidays"},
            headers={"X-API-Key": key},
        )
    assert answer.status_code == 200, answer.text
    # The same answer as the command line's, for the same periods and agency.
    assert answer.json()["agencies"] == json.loads(own.stdout)["agencies"]
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "compare"
    with TestClient(create_app(database)) as client:
        centuries = client.get(
            "/api/v1/analytics/usage",
            params={"period": ["long=0001-01-01..9999-12-31", periods[1]]},
            headers={"X-API-Key": key},
        )
    assert centuries.status_code == 422 and centuries.json()["detail"][0]["field"] == "period"


def test_a_bad_usage_file_writes_nothing_and_names_line_and_field(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        make_agencies(session)
    good = _events("Police FR", range(0, 1), 2, 0)
    lines = [
        *good,
        {**good[0], "event_id": "EV-X", "action": "delete"},
        {**good[0], "event_id": "EV-Y", "agency": "Nobody"},
        {**good[0], "event_id": "EV-Z", "at": "2020-01-07T10:00:00"},
        "not json",
    ]
    result = runner.invoke(
        app, ["trends", "import-usage", str(write_jsonl(tmp_path / "u.jsonl", lines))]
    )
    assert result.exit_code == 1
    for expected in ("line 3: action", "line 4: agency", "line 5: at", "line 6: not JSON"):
        assert expected in result.output
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 0


def test_the_audit_log_counts_as_use(database: Database) -> None:
    with database.session() as session:
        agencies = make_agencies(session)
        for week in range(8):  # reads in the baseline, none during the restrictions
            at = datetime.combine(MONDAY + timedelta(days=7 * week + 2), time(10), UTC)
            session.add(
                AuditEvent(
                    actor="api:x",
                    agency_id=agencies["Police FR"].id,
                    action="report.list",
                    object_type="report",
                    at=at,
                    success=True,
                )
            )
    with database.session() as session:
        result = usage(session, PERIODS, sources="audit").as_dict()
        imported_only = usage(session, PERIODS, sources="imported").as_dict()
    (police,) = result["agencies"]
    assert police["baseline_queries"] == 8 and police["status"] == "stopped"
    assert imported_only["agencies"] == []


def test_published_counts_beside_veilles_own(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
    records = [
        report_record(
            n, received_at=f"2020-0{1 + n % 3}-10T10:00:00Z", stated_country="FR", marking="clear"
        )
        for n in range(9)
    ]
    import_reports(database, write_jsonl(tmp_path / "r.jsonl", records))
    csv_file = tmp_path / "published.csv"
    csv_file.write_text(
        "source,country,period_start,period_end,measure,count\n"
        "Clearinghouse,FR,2020-01-01,2020-02-29,reports,12\n"
        "Clearinghouse,DE,2020-01-01,2020-12-31,reports,40\n"
    )
    assert runner.invoke(app, ["trends", "import-published", str(csv_file)]).exit_code == 0
    csv_file.write_text(csv_file.read_text().replace(",12\n", ",18\n"))
    updated = runner.invoke(app, ["trends", "import-published", str(csv_file), "--json"])
    assert json.loads(updated.output) == {"rows": 2, "imported": 0, "updated": 1}
    rows = json.loads(
        runner.invoke(app, ["trends", "published", "--all-agencies", "--json"]).output
    )
    by_country = {r["country"]: r for r in rows}
    assert by_country["FR"]["published"] == 18 and by_country["FR"]["veille_reports"] == 6
    assert by_country["DE"]["veille_reports"] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "source,country,period_start,period_end,measure,count\n"
        "X,FRA,2020-01-01,2020-02-29,reports,1\nX,FR,2020-03-01,2020-02-01,reports,-3\n"
    )
    refused = runner.invoke(app, ["trends", "import-published", str(bad)])
    assert refused.exit_code == 1
    for expected in ("row 2: country", "row 3: period_end", "row 3: count"):
        assert expected in refused.output
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(PublishedCount)) == 2


def test_hostile_files_are_refused_whole_and_bounded(database: Database, tmp_path: Path) -> None:
    from veille.analytics.published import MAX_BYTES
    from veille.analytics.usage import MAX_LINE_BYTES

    with database.session() as session:
        make_agencies(session)
    # One line of 20 MB with no newline, then a good line: refused, nothing stored.
    huge = tmp_path / "huge.jsonl"
    with huge.open("w") as stream:
        stream.write('{"event_id": "' + "x" * (20 * 1024 * 1024) + '"}\n')
        stream.write(json.dumps(_events("Police FR", range(0, 1), 1, 0)[0]) + "\n")
    refused = runner.invoke(app, ["trends", "import-usage", str(huge)])
    assert refused.exit_code == 1 and f"longer than {MAX_LINE_BYTES} bytes" in refused.output
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"agency": "Polic\xe9"}\n'.encode("latin-1"))
    wrong = runner.invoke(app, ["trends", "import-usage", str(latin)])
    assert wrong.exit_code == 1 and "not UTF-8" in wrong.output
    big = tmp_path / "big.csv"
    big.write_text(
        "source,country,period_start,period_end,measure,count\n" + "x" * (MAX_BYTES + 10)
    )
    too_big = runner.invoke(app, ["trends", "import-published", str(big)])
    assert too_big.exit_code == 1 and "larger than" in too_big.output
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEvent)) == 0
        assert session.scalar(select(func.count()).select_from(PublishedCount)) == 0
