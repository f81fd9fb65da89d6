"""The linking and triage routes under /api/v1, on a small app built for the test."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI, Header
from fastapi.testclient import TestClient

from tests.linking.helpers import email, import_records, make_world, record
from veille.core import api as core_api
from veille.linking import api as linking_api
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.triage import api as triage_api


def _app(database: Database, agencies: dict[str, int]) -> FastAPI:
    app = FastAPI()
    app.state.veille = SimpleNamespace(database=database)
    app.include_router(linking_api.router(), prefix="/api/v1")
    app.include_router(triage_api.router(), prefix="/api/v1")

    def as_agency(x_test_agency: str = Header()) -> Viewer:
        return Viewer(actor=f"api:{x_test_agency}", agency_id=agencies[x_test_agency])

    app.dependency_overrides[core_api.api_reader] = as_agency
    app.dependency_overrides[core_api.api_writer] = as_agency
    # The real admin scope is checked in test_policy_limits.py.
    app.dependency_overrides[core_api.api_admin] = as_agency
    return app


@pytest.fixture
def scenario(database: Database, tmp_path: Path) -> tuple[TestClient, dict[str, int]]:
    agencies = make_world(database)
    ids = import_records(
        database,
        tmp_path,
        [
            record("x", [email("api@example.com")], flags=["ongoing_access"], derived_country="DE"),
            record("y", [email("api@example.com")], owner_agency="Police DE", stated_country="DE"),
        ],
    )
    return TestClient(_app(database, agencies)), ids


FR = {"X-Test-Agency": "Police FR"}
DE = {"X-Test-Agency": "Police DE"}


def test_link_then_clusters_alerts_queue_and_explain(
    scenario: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = scenario
    run = client.post("/api/v1/link", headers=FR)
    assert run.status_code == 200
    assert run.json()["linking"]["links_recorded"] == 1
    # Police FR may see one report of the cluster: it counts as a cluster of one.
    assert client.get("/api/v1/clusters", headers=FR).json()["total"] == 0
    clusters = client.get("/api/v1/clusters?min_size=1", headers=FR).json()
    assert clusters["total"] == 1
    cluster_id = clusters["clusters"][0]["cluster_id"]
    assert re.fullmatch(r"cc-[0-9a-f]{16}", cluster_id)
    detail = client.get(f"/api/v1/clusters/{cluster_id}", headers=FR).json()
    assert [r["id"] for r in detail["reports"]] == [ids["x"]]
    assert client.get("/api/v1/clusters/12345", headers=FR).status_code == 422
    assert client.get("/api/v1/clusters/cc-0000000000000000", headers=FR).status_code == 404
    alerts = client.get("/api/v1/deconfliction-alerts", headers=DE).json()
    assert [a["other_agency"] for a in alerts] == ["Police FR"]
    assert (
        client.post(f"/api/v1/deconfliction-alerts/{alerts[0]['id']}/ack", headers=DE).status_code
        == 200
    )
    queue = client.get("/api/v1/triage/queue", headers=FR).json()
    assert [item["report_id"] for item in queue["items"]] == [ids["x"]]
    # Judged at a moment before the report arrived, the queue is empty.
    before = client.get(
        "/api/v1/triage/queue", params={"as_of": "2000-01-01T00:00:00Z"}, headers=FR
    ).json()
    assert (before["as_of"], before["open_total"]) == ("2000-01-01T00:00:00Z", 0)
    explained = client.get(f"/api/v1/triage/reports/{ids['x']}", headers=FR).json()
    assert explained["reasons"][0]["factor"] == "ongoing_access"
    assert client.get(f"/api/v1/triage/reports/{ids['x']}", headers=DE).status_code == 404


def test_state_changes_capacity_and_policy_check(
    scenario: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = scenario
    client.post("/api/v1/link", headers=FR)
    url = f"/api/v1/triage/reports/{ids['x']}/state"
    missing = client.post(url, json={"state": "closed"}, headers=FR)
    assert missing.status_code == 409
    assert missing.json()["detail"][0]["field"] == "outcome"
    done = client.post(url, json={"state": "assigned", "assignee": "alice"}, headers=FR)
    assert done.json() == {
        "report_id": ids["x"],
        "state": "assigned",
        "assignee": "alice",
        "outcome": None,
    }
    assert client.post(url, json={"state": "flying"}, headers=FR).status_code == 422
    assert (
        client.put("/api/v1/triage/capacity", json={"reports_per_day": 5}, headers=FR).status_code
        == 200
    )
    assert client.get("/api/v1/triage/queue", headers=FR).json()["capacity_per_day"] == 5
    bad = client.post(
        "/api/v1/triage/policy/check",
        content="version: x\nfactors: {}\nbands: {}\n",
        headers={**FR, "Content-Type": "application/yaml"},
    ).json()
    assert bad["valid"] is False
    assert bad["errors"][0].startswith("bands: expected exactly P1, P2, P3, P4")
    assert client.get("/api/v1/triage/policy", headers=FR).json()["bands"]["P1"]["due_hours"] == 4


def test_referrals_over_the_api(scenario: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = scenario
    client.post("/api/v1/link", headers=FR)
    both = client.post("/api/v1/referrals", json={"report_id": 1, "cluster_id": 1}, headers=FR)
    assert both.status_code == 422
    made = client.post("/api/v1/referrals", json={"report_id": ids["x"]}, headers=FR)
    assert made.status_code == 201, made.text
    referral = made.json()["referrals"][0]
    assert referral["shared"] is True
    assert referral["to_agency"] == "Police DE"
    incoming = client.get("/api/v1/referrals", params={"direction": "in"}, headers=DE).json()
    assert [r["id"] for r in incoming] == [referral["id"]]
    assert client.post(f"/api/v1/referrals/{referral['id']}/ack", headers=FR).status_code == 404
    assert client.post(f"/api/v1/referrals/{referral['id']}/ack", headers=DE).status_code == 200
    wrong = client.post("/api/v1/referrals", json={"report_id": ids["y"]}, headers=FR)
    # Report y belongs to Police DE and is not shared with Police FR: it does not exist for FR.
    assert wrong.status_code == 404


def test_routes_need_an_api_key_without_an_override(database: Database) -> None:
    pytest.importorskip("veille.web.auth")
    app = FastAPI()
    app.state.veille = SimpleNamespace(database=database)
    app.include_router(triage_api.router(), prefix="/api/v1")
    response = TestClient(app).get("/api/v1/triage/queue")
    assert response.status_code == 401


def test_every_linking_and_triage_route_documents_its_answer(database: Database) -> None:
    app = _app(database, {})
    paths = app.openapi()["paths"]
    assert len([op for methods in paths.values() for op in methods]) == 14
    for path, methods in paths.items():
        for method, operation in methods.items():
            ok = operation["responses"].get("201") or operation["responses"]["200"]
            schema = ok["content"]["application/json"]["schema"]
            described = schema.get("$ref") or schema.get("items", {}).get("$ref")
            assert described, f"{method.upper()} {path} answers an undescribed document"


def test_answers_keep_their_shape_under_the_models(
    scenario: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = scenario
    client.post("/api/v1/link", headers=FR)
    policy = client.get("/api/v1/triage/policy", headers=FR).json()
    # Only the parameters a factor's policy sets are listed (no nulls for the others).
    assert set(policy["factors"]["ongoing_access"]) == {"weight", "meaning"}
    valid = client.post(
        "/api/v1/triage/policy/check",
        content="version: x\nfactors: {}\nbands: {}\n",
        headers={**FR, "Content-Type": "application/yaml"},
    ).json()
    assert "version" not in valid
    client.post("/api/v1/referrals", json={"report_id": ids["x"]}, headers=FR)
    (listed,) = client.get("/api/v1/referrals", headers=DE).json()
    assert (listed["from"], listed["to"], listed["report_visible"]) == (
        "Police FR",
        "Police DE",
        True,
    )
    explained = client.get(f"/api/v1/triage/reports/{ids['x']}", headers=FR).json()
    assert set(explained["cluster"]) == {"cluster_id", "size", "agencies", "countries"}
    assert [r["to"] for r in explained["referrals"]] == ["Police DE"]
    run = client.post("/api/v1/link", headers=FR).json()
    assert set(run["scoring"]) >= {"considered", "by_band", "policy_version"}
