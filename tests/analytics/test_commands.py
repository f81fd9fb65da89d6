"""``veille trends`` and ``/api/v1/analytics`` on a small world, both engines."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.factories import make_agencies, report_record, write_jsonl
from veille.analytics.alerts import list_alerts, run_check
from veille.analytics.rollup import roll_up
from veille.cli import app
from veille.intake.credentials import create_api_key
from veille.intake.importer import import_reports
from veille.store.db import Database
from veille.web import create_app

runner = CliRunner()
START = date(2019, 1, 7)


def _week_records(
    weekly: list[int], prefix: str = "W", first: int = 0, **fields: str
) -> list[dict[str, object]]:
    """``weekly[i]`` clear reports received in week ``i`` from START (FR, p2p unless told)."""
    records = []
    for week, count in enumerate(weekly):
        day = START + timedelta(days=7 * week + 2)
        for n in range(count):
            records.append(
                report_record(
                    first + len(records),
                    external_id=f"{prefix}{week:03d}-{n:03d}",
                    received_at=f"{day}T12:00:00Z",
                    identifiers=[],
                    media=[],
                    **{"marking": "clear", **fields},
                )
            )
    return records


def _import_weeks(database: Database, tmp_path: Path, weekly: list[int], **fields: str) -> None:
    import_reports(database, write_jsonl(tmp_path / "weeks.jsonl", _week_records(weekly, **fields)))
    roll_up(database)


def _weekly(
    seed: int, weeks: int, mean: float, step_at: int | None = None, factor: float = 1.0
) -> list[int]:
    rng = np.random.default_rng(seed)
    means = np.array(
        [mean * (factor if step_at is not None and i >= step_at else 1) for i in range(weeks)]
    )
    return [int(v) for v in rng.poisson(means)]


def test_series_compare_and_changes_from_the_command_line(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        make_agencies(session)
    _import_weeks(database, tmp_path, _weekly(1, 40, 12, step_at=30, factor=2.5))
    as_csv = runner.invoke(app, ["trends", "series", "--all-agencies", "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(rows) == 40 and rows[0]["period"] == "2019-01-07"
    chart = tmp_path / "series.svg"
    series_json = runner.invoke(
        app,
        [
            "trends",
            "series",
            "--as",
            "Hotline FR",
            "--json",
            "--country",
            "fr",
            "--chart",
            str(chart),
        ],
    )
    assert series_json.exit_code == 0, series_json.output
    assert chart.read_text().lstrip().startswith("<?xml")
    step = START + timedelta(days=7 * 30)
    compared = runner.invoke(
        app,
        [
            "trends",
            "compare",
            "--all-agencies",
            "--json",
            "--period",
            f"before={START}..{step - timedelta(days=1)}",
            "--period",
            f"after={step}..{START + timedelta(days=7 * 40 - 1)}",
        ],
    )
    assert compared.exit_code == 0, compared.output
    (comparison,) = json.loads(compared.output)["comparisons"]
    assert comparison["verdict"] == "increase"
    assert comparison["ci_low"] <= 2.5 <= comparison["ci_high"]
    changes = json.loads(
        runner.invoke(app, ["trends", "changes", "--all-agencies", "--json"]).output
    )
    weeks = [date.fromisoformat(c["week"]) for c in changes["changes"] if c["week"]]
    assert any(abs((w - step).days) <= 14 for w in weeks)


def test_clear_errors_name_the_option(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
    cases = {
        ("trends", "series", "--all-agencies", "--by", "planet"): "--by: 'planet'",
        ("trends", "series", "--all-agencies", "--since", "2020-13-01"): "--since",
        (
            "trends",
            "series",
            "--all-agencies",
            "--offence",
            "grooming",
            "--by",
            "flag",
        ): "offence and flag",
        (
            "trends",
            "compare",
            "--all-agencies",
            "--period",
            "a=2020-01-01..2020-02-01",
        ): "at least two",
        ("trends", "compare", "--all-agencies", "--period", "a=2020-01-01"): "NAME=",
        ("trends", "series", "--all-agencies", "--chart", str(tmp_path / "x.gif")): "--chart",
        ("trends", "series"): "--as AGENCY",
    }
    for arguments, message in cases.items():
        result = runner.invoke(app, list(arguments))
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.output, (arguments, result.output)
    bad = tmp_path / "periods.yaml"
    bad.write_text(
        "periods:\n  baseline: [2020-01-01, 2019-01-01]\n  after: [2020-02-01, 2020-03-01]\n"
    )
    result = runner.invoke(app, ["trends", "compare", "--all-agencies", "--periods-file", str(bad)])
    assert result.exit_code == 2 and "periods.baseline" in result.output


def test_the_weekly_check_stores_one_alert_for_a_spike(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
    weekly = [*_weekly(3, 30, 20), 90]
    _import_weeks(database, tmp_path, weekly, marking="clear")
    checked = START + timedelta(days=7 * 30)
    first = run_check(database, checked)
    again = run_check(database, checked)
    assert [a.series_key for a in first.alerts] == [
        "all reports",
        "country=FR",
        "category=p2p",
        "country=FR,category=p2p",
    ][: len(first.alerts)]
    assert first.alerts and again.alerts == []
    with database.session() as session:
        stored = list_alerts(session, None)
    assert {a.direction for a in stored} == {"above"}
    assert stored[0].evidence["counts"][-1] == 90
    listed = runner.invoke(app, ["trends", "alerts", "--as", "Police FR", "--json"])
    assert len(json.loads(listed.output)) == len(stored)  # clear reports: every agency reads them
    quiet = run_check(database, checked - timedelta(days=7))
    assert quiet.alerts == []


def test_alerts_from_amber_reports_are_for_administrators(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        make_agencies(session)
    _import_weeks(database, tmp_path, [*_weekly(4, 30, 20), 90], marking="amber")
    summary = run_check(database, START + timedelta(days=7 * 30))
    assert summary.series_checked == 4 and summary.alerts, summary
    with database.session() as session:
        assert list_alerts(session, None)
    listed = runner.invoke(app, ["trends", "alerts", "--as", "Police FR", "--json"])
    assert json.loads(listed.output) == []
    admin = runner.invoke(app, ["trends", "alerts", "--all-agencies", "--json"])
    assert {a["marking"] for a in json.loads(admin.output)} == {"amber"}


def test_the_api_counts_what_the_key_may_see(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        make_agencies(session)
        _, police_fr = create_api_key(session, "Police FR", ["reports:read"])
        _, police_de = create_api_key(session, "Police DE", ["reports:read"])
    _import_weeks(database, tmp_path, [3, 4, 5], marking="amber")  # owned by Police FR
    with TestClient(create_app(database)) as client:
        own = client.get("/api/v1/analytics/series", headers={"X-API-Key": police_fr})
        other = client.get("/api/v1/analytics/series", headers={"X-API-Key": police_de})
        bad = client.get(
            "/api/v1/analytics/series", params={"by": "planet"}, headers={"X-API-Key": police_fr}
        )
        compared = client.get(
            "/api/v1/analytics/compare",
            params={"period": ["a=2019-01-07..2019-01-13"]},
            headers={"X-API-Key": police_fr},
        )
        content = client.get("/api/v1/analytics/content", headers={"X-API-Key": police_fr})
        anonymous = client.get("/api/v1/analytics/series")
    assert own.status_code == 200 and own.json()["series"][0]["total"] == 12
    assert own.json()["marking"] == "amber"
    assert other.status_code == 200 and all(s["total"] == 0 for s in other.json()["series"])
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"].startswith("query.by")
    assert compared.status_code == 422 and "period" in compared.json()["detail"][0]["field"]
    assert content.status_code == 200 and content.json()["marking"] == "amber"
    assert sum(r["reports"] for r in content.json()["rows"]) == 12
    assert anonymous.status_code == 401


def test_a_series_over_centuries_is_refused_before_any_work(database: Database) -> None:
    with database.session() as session:
        make_agencies(session)
        _, key = create_api_key(session, "Police FR", ["reports:read"])
    wide = ["--since", "0001-01-01", "--until", "9999-12-31"]
    for command in ("series", "changes", "content"):
        result = runner.invoke(app, ["trends", command, "--all-agencies", *wide])
        assert result.exit_code == 2 and "--since" in result.output, (command, result.output)
    with TestClient(create_app(database)) as client:
        answer = client.get(
            "/api/v1/analytics/changes",
            params={"since": "0001-01-01", "until": "9999-12-31"},
            headers={"X-API-Key": key},
        )
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "since"


def test_a_compare_with_a_trend_refuses_too_many_periods_and_a_bad_flag(
    database: Database, tmp_path: Path
) -> None:
    """Each period adds two columns to the model with ``trend``: their number is bounded."""
    from datetime import date, timedelta

    with database.session() as session:
        make_agencies(session)
        _, key = create_api_key(session, "Police FR", ["reports:read"])
    _import_weeks(database, tmp_path, [3, 4, 5, 6, 7, 8], marking="amber")

    def periods(count: int) -> list[str]:
        start = date(2018, 1, 1)
        return [
            f"p{n}={start + timedelta(weeks=5 * n)}..{start + timedelta(weeks=5 * n + 5, days=-1)}"
            for n in range(count)
        ]

    with TestClient(create_app(database)) as client:
        too_many = client.get(
            "/api/v1/analytics/compare",
            params={"period": periods(17), "trend": "true"},
            headers={"X-API-Key": key},
        )
        not_a_flag = client.get(
            "/api/v1/analytics/compare",
            params={"period": periods(2), "trend": "perhaps"},
            headers={"X-API-Key": key},
        )
        most = client.get(
            "/api/v1/analytics/compare",
            params={"period": periods(16), "trend": "true"},
            headers={"X-API-Key": key},
        )
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["field"].startswith(
        "query.period"
    )
    assert not_a_flag.status_code == 422
    assert not_a_flag.json()["detail"][0]["field"].startswith("query.trend")
    assert most.status_code == 200 and len(most.json()["comparisons"]) == 15


def test_a_pooled_gap_from_the_command_line_and_the_api(database: Database, tmp_path: Path) -> None:
    """Two countries fitted together: their own rows, and rows of country ``all`` adding them up."""
    with database.session() as session:
        make_agencies(session)
        _, key = create_api_key(session, "Police FR", ["reports:read"])
    records: list[dict[str, object]] = []
    for country, mean in (("FR", 12.0), ("DE", 6.0)):
        # Half the reports while closed (weeks 30 to 37).
        weekly = _weekly(len(records), 30, mean) + _weekly(len(records) + 1, 8, mean / 2)
        records += _week_records(weekly, f"{country}-", len(records), stated_country=country)
    import_reports(database, write_jsonl(tmp_path / "two.jsonl", records))
    roll_up(database)
    closed = START + timedelta(days=7 * 30)
    periods = [
        f"before={START}..{closed - timedelta(days=1)}",
        f"closed={closed}..{START + timedelta(days=7 * 38 - 1)}",
    ]
    arguments = ["trends", "gap", "--all-agencies", "--json", "--pooled"]
    for period in periods:
        arguments += ["--period", period]
    chart = tmp_path / "gap.png"
    answer = runner.invoke(app, [*arguments, "--chart", str(chart)])
    assert answer.exit_code == 0, answer.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    rows = {row["country"]: row for row in json.loads(answer.stdout)["gaps"]}
    assert set(rows) == {"FR", "DE", "all"}
    assert rows["all"]["observed"] == rows["FR"]["observed"] + rows["DE"]["observed"]
    # 8 weeks at half of 18 a week: about 72 reports short; the interval says a shortfall.
    assert rows["all"]["gap_low"] <= -72 <= rows["all"]["gap_high"] < 0
    wrong = runner.invoke(app, [*arguments, "--chart", str(tmp_path / "gap.gif")])
    assert wrong.exit_code == 2 and "--chart" in wrong.output
    with TestClient(create_app(database)) as client:
        pooled = client.get(
            "/api/v1/analytics/gap",
            params={"period": periods, "pooled": "true"},
            headers={"X-API-Key": key},
        )
    assert pooled.status_code == 200, pooled.text
    assert {row["country"] for row in pooled.json()["gaps"]} == {"FR", "DE", "all"}
