"""The REST API: keys and scopes, create/read/list, idempotency, bulk, in-app and SMS."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.conftest import Tenants
from veille.store.audit import events_for
from veille.store.db import Database
from veille.store.models import AuditEvent, Identifier, Report

REPORT = {
    "platform_category": "messaging",
    "platform": "ExampleChat",
    "offence_types": ["grooming"],
    "flags": ["ongoing_access"],
    "summary": "An adult asked a 12-year-old for pictures.",
    "stated_country": "fr",
    "identifiers": [
        {"kind": "username", "value": "@Night_Owl", "platform": "ExampleChat"},
        {"kind": "ip", "value": "203.0.113.5"},
    ],
    "media": [{"md5": "A" * 32, "pdq": "f" * 64, "pdq_quality": 90}],
}


def key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def test_create_then_read_a_report(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    created = client.post("/api/v1/reports", json=REPORT, headers=key(tenants.write_key))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["channel"] == "rest_api"
    assert body["reporter_kind"] == "esp"
    assert body["owner_agency"] == "Example ESP"
    assert body["stated_country"] == "FR"
    # The documentation address does not geolocate, so the stated country is used.
    assert (body["derived_country"], body["country_reason"]) == ("FR", "stated")
    assert {"kind": "username", "value": "night_owl", "platform": "examplechat"} in body[
        "identifiers"
    ]
    assert body["media"][0]["md5"] == "a" * 32
    assert body["media_state"] in ("pending", "matched")
    read = client.get(f"/api/v1/reports/{body['id']}", headers=key(tenants.read_key))
    assert read.status_code == 200 and read.json()["summary"] == REPORT["summary"]
    with database.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == str(body["id"]))
        ).all()
    assert "report.read" in actions


def test_media_is_not_shown_matched_until_the_worker_ran(
    client: TestClient, tenants: Tenants
) -> None:
    report_id = client.post("/api/v1/reports", json=REPORT, headers=key(tenants.write_key)).json()[
        "id"
    ]
    state = ""
    for _ in range(200):
        state = client.get(f"/api/v1/reports/{report_id}", headers=key(tenants.read_key)).json()[
            "media_state"
        ]
        if state == "matched":
            break
        time.sleep(0.05)
    assert state == "matched"


def test_idempotency_key_replays_and_conflicts(client: TestClient, tenants: Tenants) -> None:
    headers = {**key(tenants.write_key), "Idempotency-Key": "case-2024-0001"}
    first = client.post("/api/v1/reports", json=REPORT, headers=headers)
    again = client.post("/api/v1/reports", json=REPORT, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["external_id"] == "case-2024-0001"
    changed = client.post(
        "/api/v1/reports", json={**REPORT, "offence_types": ["sextortion"]}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["detail"][0]["field"] == "Idempotency-Key"


def test_keys_scopes_and_visibility(client: TestClient, tenants: Tenants) -> None:
    assert client.post("/api/v1/reports", json=REPORT).status_code == 401
    assert client.post("/api/v1/reports", json=REPORT, headers=key("vk_nope")).status_code == 401
    denied = client.post("/api/v1/reports", json=REPORT, headers=key(tenants.read_key))
    assert denied.status_code == 403 and "reports:write" in denied.json()["detail"][0]["reason"]
    report_id = client.post(
        "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {tenants.write_key}"}
    ).json()["id"]
    # An amber report of the ESP is not visible to the police unit until shared.
    assert (
        client.get(f"/api/v1/reports/{report_id}", headers=key(tenants.police_read_key)).status_code
        == 404
    )
    listed = client.get("/api/v1/reports", headers=key(tenants.police_read_key)).json()
    assert listed == {"total": 0, "reports": []}
    clear = client.post(
        "/api/v1/reports", json={**REPORT, "marking": "clear"}, headers=key(tenants.write_key)
    ).json()
    listed = client.get("/api/v1/reports", headers=key(tenants.police_read_key)).json()
    assert [r["id"] for r in listed["reports"]] == [clear["id"]]


def test_bad_fields_are_named(client: TestClient, tenants: Tenants) -> None:
    bad = client.post(
        "/api/v1/reports",
        json={
            **REPORT,
            "platform_category": "space",
            "identifiers": [{"kind": "ip", "value": "1.2.3"}],
        },
        headers=key(tenants.write_key),
    )
    assert bad.status_code == 422
    fields = {problem["field"] for problem in bad.json()["detail"]}
    assert "body.platform_category" in fields
    assert any(f.startswith("body.identifiers.0") for f in fields)
    nul = client.post(
        "/api/v1/reports", json={**REPORT, "summary": "a\u0000b"}, headers=key(tenants.write_key)
    )
    assert nul.status_code == 422 and "summary: contains a NUL" in nul.json()["detail"][0]["reason"]
    sms = client.post(
        "/api/v1/sms",
        json={"from": "+447700900123", "text": "\u0000"},
        headers=key(tenants.write_key),
    )
    assert sms.status_code == 422
    country = client.post(
        "/api/v1/reports",
        json={**REPORT, "stated_country": "Atlantis"},
        headers=key(tenants.write_key),
    )
    assert country.status_code == 422 and country.json()["detail"][0]["field"] == "stated_country"


def test_bulk_jsonl_is_all_or_nothing(client: TestClient, tenants: Tenants) -> None:
    lines = [json.dumps({**REPORT, "external_id": f"B-{n}"}) for n in range(5)]
    headers = {**key(tenants.write_key), "Content-Type": "application/x-ndjson"}
    bad = client.post(
        "/api/v1/reports/bulk",
        content="\n".join([*lines, '{"platform_category": 3}']),
        headers=headers,
    )
    assert bad.status_code == 422
    assert {problem["line"] for problem in bad.json()["detail"]} == {6}
    assert client.get("/api/v1/reports", headers=key(tenants.read_key)).json()["total"] == 0
    good = client.post("/api/v1/reports/bulk", content="\n".join(lines) + "\n", headers=headers)
    assert good.status_code == 200 and (good.json()["created"], good.json()["unchanged"]) == (5, 0)
    replay = client.post("/api/v1/reports/bulk", content="\n".join(lines), headers=headers)
    assert (replay.json()["created"], replay.json()["unchanged"]) == (0, 5)
    assert replay.json()["report_ids"] == good.json()["report_ids"]
    listed = client.get(
        "/api/v1/reports", params={"limit": 2}, headers=key(tenants.read_key)
    ).json()
    assert listed["total"] == 5 and len(listed["reports"]) == 2


def test_in_app_report_with_the_fewest_fields(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    sent = client.post(
        "/api/v1/in-app-reports",
        json={
            "what_happened": "A player asked me to send photos",
            "platform": "Example Quest",
            "account_name": "Grim_Knight",
        },
        headers=key(tenants.write_key),
    )
    assert sent.status_code == 201
    report = client.get(
        f"/api/v1/reports/{sent.json()['report_id']}", headers=key(tenants.read_key)
    ).json()
    assert (report["channel"], report["reporter_kind"], report["platform"]) == (
        "in_app",
        "public",
        "Example Quest",
    )
    assert report["identifiers"] == [
        {"kind": "username", "value": "grim_knight", "platform": "example quest"}
    ]
    empty = client.post(
        "/api/v1/in-app-reports",
        json={"what_happened": "", "platform": "x"},
        headers=key(tenants.write_key),
    )
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "body.what_happened"


def test_sms_webhook_acknowledges_in_the_sender_language(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    french = client.post(
        "/api/v1/sms",
        json={
            "from": "+33 6 39 98 12 34",
            "text": "un homme demande des photos à ma fille",
            "message_id": "m-1",
        },
        headers=key(tenants.write_key),
    )
    assert french.status_code == 201, french.text
    body = french.json()
    assert body["sender_country"] == "FR" and body["reply"].startswith("Merci.")
    assert body["reference"] in body["reply"]
    report = client.get(
        f"/api/v1/reports/{body['report_id']}", headers=key(tenants.read_key)
    ).json()
    assert (report["channel"], report["derived_country"], report["country_reason"]) == (
        "sms",
        "FR",
        "phone",
    )
    with database.session() as session:
        assert session.scalars(select(Identifier)).all() == []
    english = client.post(
        "/api/v1/sms",
        json={"from": "+447700900123", "text": "help"},
        headers=key(tenants.write_key),
    )
    assert english.json()["reply"].startswith("Thank you.")
    bad = client.post(
        "/api/v1/sms", json={"from": "12", "text": "x"}, headers=key(tenants.write_key)
    )
    assert bad.status_code == 422


def test_openapi_and_docs_page(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/api/v1/reports",
        "/api/v1/reports/bulk",
        "/api/v1/reports/{report_id}",
        "/api/v1/sms",
    } <= set(spec["paths"])
    assert not any(path.startswith("/ispws") for path in spec["paths"])
    page = client.get("/docs")
    assert (
        page.status_code == 200
        and "POST /api/v1/reports" in page.text
        and "<script" not in page.text
    )


def _receipts(database: Database, report_id: int) -> list[tuple[str, int | None]]:
    with database.session() as session:
        return [
            (event.action, event.agency_id)
            for event in events_for(session, "report", report_id)
            if event.action.startswith("report.receive.")
        ]


def test_rest_reports_are_audited_as_received_like_every_channel(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    one = client.post("/api/v1/reports", json=REPORT, headers=key(tenants.write_key)).json()
    assert _receipts(database, one["id"]) == [("report.receive.rest_api", tenants.esp_id)]
    lines = [json.dumps({**REPORT, "external_id": f"bulk-audit-{n}"}) for n in range(3)]
    bulk = client.post(
        "/api/v1/reports/bulk",
        content="\n".join(lines),
        headers={**key(tenants.write_key), "Content-Type": "application/x-ndjson"},
    ).json()
    for report_id in bulk["report_ids"]:
        assert _receipts(database, report_id) == [("report.receive.rest_api", tenants.esp_id)]


def test_a_report_whose_audit_event_fails_is_not_stored(
    web_app: FastAPI, tenants: Tenants, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("veille.web.api_routes.record_event", refuse)
    with TestClient(web_app, raise_server_exceptions=False) as failing:
        answer = failing.post("/api/v1/reports", json=REPORT, headers=key(tenants.write_key))
    assert answer.status_code == 500
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 0
