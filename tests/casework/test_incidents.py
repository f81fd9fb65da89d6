"""School incidents: import, list, count by place and period, GeoJSON and CSV for maps."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.casework.helpers import api_app, jsonl, make_world
from veille.casework.errors import ImportRefused
from veille.casework.incidents import (
    IncidentFilter,
    Period,
    Place,
    count_incidents,
    import_incidents,
    incidents_geojson,
    list_incidents,
)
from veille.casework.models import IncidentKind, SchoolIncident
from veille.cli import app
from veille.store.db import Database


def _incident(number: int, **overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "incident_id": f"SI-{number}",
        "country": "FR",
        "school": f"École {number} (FR)",
        "kind": "video_conference_intrusion",
        "platform": "meetspace",
        "occurred_at": "2020-04-06T09:00:00+00:00",
        "reported_at": "2020-04-06T12:00:00+00:00",
        "report_external_id": None,
    }
    if "occurred_at" in overrides:
        line["reported_at"] = None
    line.update(overrides)
    return line


SAMPLE = [
    _incident(1, region="Bretagne", locality="Rennes", latitude=48.11, longitude=-1.68),
    _incident(2, region="Bretagne", occurred_at="2020-04-07T10:00:00Z"),
    _incident(3, region="Occitanie", occurred_at="2020-05-12T10:00:00Z", kind="grooming_contact"),
    _incident(4, country="DEU", occurred_at="2021-01-04T08:00:00Z"),
]


@pytest.fixture
def imported(database: Database, tmp_path: Path) -> Database:
    path = tmp_path / "school-incidents.jsonl"
    path.write_text(jsonl(SAMPLE))  # type: ignore[arg-type]
    summary = import_incidents(database, path, actor="t")
    assert (summary.imported, summary.unchanged) == (4, 0)
    assert import_incidents(database, path, actor="t").unchanged == 4
    return database


def test_counts_by_country_and_month_and_by_region_and_week(imported: Database) -> None:
    with imported.session() as session:
        by_month = count_incidents(session, place=Place.COUNTRY, period=Period.MONTH)
        by_region = count_incidents(
            session, IncidentFilter(countries=["FR"]), place=Place.REGION, period=Period.WEEK
        )
        by_year = count_incidents(
            session, IncidentFilter(kinds=[IncidentKind.VIDEO_CONFERENCE_INTRUSION]),
            period=Period.YEAR,
        )  # fmt: skip
    assert by_month == [
        {"country": "DE", "period": "2021-01", "incidents": 1},
        {"country": "FR", "period": "2020-04", "incidents": 2},
        {"country": "FR", "period": "2020-05", "incidents": 1},
    ]
    assert by_region == [
        {"country": "FR", "region": "Bretagne", "period": "2020-W15", "incidents": 2},
        {"country": "FR", "region": "Occitanie", "period": "2020-W20", "incidents": 1},
    ]
    assert by_year == [
        {"country": "DE", "period": "2021", "incidents": 1},
        {"country": "FR", "period": "2020", "incidents": 2},
    ]


def test_geojson_puts_longitude_first_and_keeps_unlocated_incidents_without_geometry(
    imported: Database,
) -> None:
    with imported.session() as session:
        _, rows = list_incidents(session, limit=None)
        collection = incidents_geojson(rows)
        located = incidents_geojson(rows, located_only=True)
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 4
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [-1.68, 48.11]}
    assert first["properties"]["locality"] == "Rennes"
    assert [f["geometry"] for f in collection["features"][1:]] == [None, None, None]
    assert len(located["features"]) == 1


def test_bad_lines_are_named_and_nothing_is_written(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        jsonl(
            [
                _incident(1),
                _incident(2, country="Atlantis"),
                _incident(3, kind="burglary"),
                _incident(4, latitude=48.1),
                _incident(5, occurred_at="2020-04-06 09:00"),
                _incident(6, latitude=120.0, longitude=2.0),
                _incident(1),
            ]
        )
    )
    with pytest.raises(ImportRefused) as refused:
        import_incidents(database, path, actor="t")
    assert {(p.line, p.field) for p in refused.value.problems} == {
        (2, "country"), (3, "kind"), (4, "(line)"), (5, "occurred_at"), (6, "latitude"),
        (7, "incident_id"),
    }  # fmt: skip
    assert "give both latitude and longitude" in str(refused.value)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(SchoolIncident)) == 0


def test_the_cli_imports_counts_and_exports_csv(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "school-incidents.jsonl"
    path.write_text(jsonl(SAMPLE))  # type: ignore[arg-type]
    runner = CliRunner()
    assert runner.invoke(app, ["incidents", "import", str(path)]).exit_code == 0
    added = runner.invoke(
        app,
        ["incidents", "add", "--school", "Lycée Test", "--country", "BE", "--kind", "image_sharing",
         "--occurred-at", "2020-06-01T10:00:00Z", "--region", "Wallonie"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    refused = runner.invoke(
        app,
        ["incidents", "add", "--school", "X", "--country", "BE", "--kind", "image_sharing",
         "--occurred-at", "2020-06-01T10:00:00"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "--occurred-at" in refused.output
    counted = runner.invoke(
        app, ["incidents", "count", "--by", "region", "--period", "year", "--json"]
    )
    assert {"country": "BE", "region": "Wallonie", "period": "2020", "incidents": 1} in json.loads(
        counted.output
    )
    out = tmp_path / "incidents.csv"
    exported = runner.invoke(app, ["incidents", "export", str(out), "--country", "FR"])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["incident_id"] for row in rows] == ["SI-1", "SI-2", "SI-3"]
    assert rows[0]["latitude"] == "48.11" and rows[1]["latitude"] == ""
    assert runner.invoke(app, ["incidents", "export", str(tmp_path / "x.txt")]).exit_code == 2


def test_the_api_records_lists_counts_and_exports(database: Database) -> None:
    agencies = make_world(database)
    client = TestClient(api_app(database, agencies))
    fr = {"X-Test-Agency": "Police FR"}
    made = client.post(
        "/api/v1/incidents", headers=fr, json=_incident(1, latitude=1.5, longitude=2.5)
    )
    assert made.status_code == 201, made.text
    assert client.post("/api/v1/incidents", headers=fr, json=_incident(1)).status_code == 409
    bad = client.post("/api/v1/incidents", headers=fr, json=_incident(2, kind="x"))
    assert bad.status_code == 422
    listed = client.get("/api/v1/incidents?country=FRA", headers=fr).json()
    assert listed["total"] == 1 and listed["incidents"][0]["school"] == "École 1 (FR)"
    assert client.get("/api/v1/incidents?country=ZZ", headers=fr).status_code == 422
    counts = client.get("/api/v1/incidents/counts?period=week", headers=fr).json()
    assert counts == [{"country": "FR", "region": None, "period": "2020-W15", "incidents": 1}]
    geo = client.get("/api/v1/incidents.geojson", headers=fr)
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert geo.json()["features"][0]["geometry"]["coordinates"] == [2.5, 1.5]
    text = client.get("/api/v1/incidents.csv", headers=fr).text
    assert text.splitlines()[0].startswith("id,incident_id,school")
