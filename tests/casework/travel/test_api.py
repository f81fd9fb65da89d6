"""The travel-watch routes under /api/v1/travel, on a small app built for the test."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Header
from fastapi.testclient import TestClient

from veille.casework.travel import api as travel_api
from veille.core import api as core_api
from veille.store.agencies import AgencySpec, add_agency
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.vocab import AgencyKind


@pytest.fixture
def client(database: Database) -> TestClient:
    with database.session() as session:
        agencies = {
            name: add_agency(session, AgencySpec(name, AgencyKind.POLICE, country)).id
            for name, country in (("Police TH", "TH"), ("Police UA", "UA"))
        }
    app = FastAPI()
    app.state.veille = SimpleNamespace(database=database)
    app.include_router(travel_api.router(), prefix="/api/v1")

    def as_agency(x_test_agency: str = Header()) -> Viewer:
        return Viewer(actor=f"api:{x_test_agency}", agency_id=agencies[x_test_agency])

    for dependency in (core_api.api_reader, core_api.api_writer, core_api.api_admin):
        app.dependency_overrides[dependency] = as_agency
    return TestClient(app)


TH = {"X-Test-Agency": "Police TH"}
UA = {"X-Test-Agency": "Police UA"}


def _notice(notice_id: str, given: str, family: str, born: str) -> dict[str, Any]:
    return {
        "notice_id": notice_id,
        "given_name": given,
        "family_name": family,
        "date_of_birth": born,
        "departure_country": "UA",
        "destination_country": "TH",
        "departure_at": "2027-03-01T08:30:00+02:00",
    }


def test_post_notices_match_and_review_an_alert(client: TestClient) -> None:
    entry = {
        "watch_id": "WL-1",
        "given_name": "Юрий",
        "family_name": "Андреев",
        "date_of_birth": "1971-03-14",
        "legal_basis": "court order (synthetic)",
        "valid_until": "2030-12-31",
    }
    stored = client.post("/api/v1/travel/watch-list", json={"entries": [entry]}, headers=UA)
    assert stored.status_code == 200, stored.text
    assert stored.json()["imported"] == 1
    posted = client.post(
        "/api/v1/travel/notices",
        json={"notices": [_notice("TN-1", "Jurij", "Andrejew", "1971-03-14")]},
        headers=UA,
    )
    assert posted.status_code == 201, posted.text
    matched = client.post("/api/v1/travel/match", json={"as_of": "2027-01-01"}, headers=UA)
    assert matched.json() == {"notices": 1, "alerts": 1, "watch_entries": 1}
    (alert,) = client.get("/api/v1/travel/alerts", headers=TH).json()
    assert (alert["watch_id"], alert["state"]) == ("WL-1", "open")
    assert alert["matched_fields"]["date_of_birth"] == 1.0
    assert client.get("/api/v1/travel/alerts", headers=UA).json() == []
    assert client.get(f"/api/v1/travel/alerts/{alert['id']}", headers=UA).status_code == 404
    refused = client.post(f"/api/v1/travel/alerts/{alert['id']}/confirm", json={}, headers=UA)
    assert refused.status_code == 404
    confirmed = client.post(
        f"/api/v1/travel/alerts/{alert['id']}/confirm", json={"note": "seen"}, headers=TH
    )
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert (body["state"], body["reviewed_by"], body["review_note"]) == (
        "confirmed",
        "api:Police TH",
        "seen",
    )
    purged = client.post("/api/v1/travel/watch-list/purge?as_of=2031-01-01", headers=UA)
    assert purged.json() == {"purged": ["WL-1"]}
    # The alert and its review outlive the purged entry.
    kept = client.get(f"/api/v1/travel/alerts/{alert['id']}", headers=TH).json()
    assert (kept["watch_id"], kept["state"]) == ("WL-1", "confirmed")


def test_a_bad_notice_is_refused_naming_its_place_and_nothing_is_stored(
    client: TestClient,
) -> None:
    good = _notice("TN-1", "Ann", "Example", "1970-01-01")
    bad = {**_notice("TN-2", "Bob", "Example", "1970-01-01"), "departure_at": "2027-03-01T08:30"}
    refused = client.post("/api/v1/travel/notices", json={"notices": [good, bad]}, headers=UA)
    assert refused.status_code == 422
    # The web app turns FastAPI's "loc" into the one error shape's "field"; this small app
    # answers with FastAPI's own.
    fields = [".".join(map(str, problem["loc"])) for problem in refused.json()["detail"]]
    assert any("notices" in f and "1" in f and "departure_at" in f for f in fields), fields
    numeric = {**good, "date_of_birth": 19700101}
    assert (
        client.post("/api/v1/travel/notices", json={"notices": [numeric]}, headers=UA).status_code
        == 422
    )
    assert client.post("/api/v1/travel/match", json={}, headers=UA).json()["notices"] == 0
    stored = client.post("/api/v1/travel/notices", json={"notices": [good]}, headers=UA)
    assert stored.status_code == 201
    changed = {**good, "family_name": "Other"}
    conflict = client.post("/api/v1/travel/notices", json={"notices": [changed]}, headers=UA)
    assert conflict.status_code == 409
    assert conflict.json()["detail"][0]["field"] == "body.notices.0.notice_id"
