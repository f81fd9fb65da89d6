"""One flow: a report from every live channel ends in its agency's queue, linked and scored.

No command is run by hand: the app's own job-system consumer (threads of the
server, on the real queue storage of each engine) runs the flow's steps.
"""

from __future__ import annotations

import re
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import Tenants
from tests.web.esp_client import GOLDEN, answer, procedural_jpeg
from tests.web.test_form import FORM, token
from tests.web.test_rest_api import REPORT, key
from veille.linking.models import ReportCluster
from veille.store.db import Database
from veille.triage.models import QueueItem, TriageScore


def wait_in_queue(database: Database, report_id: int, timeout_s: float = 30) -> tuple[int, str]:
    """(the queue's agency, the band) once the report is linked, scored and queued."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with database.session() as session:
            linked = session.get(ReportCluster, report_id) is not None
            band = session.scalar(
                select(TriageScore.band).where(TriageScore.report_id == report_id)
            )
            queued = session.scalar(
                select(QueueItem.agency_id).where(QueueItem.report_id == report_id)
            )
        if linked and band is not None and queued is not None:
            return queued, str(band)
        time.sleep(0.05)
    raise AssertionError(
        f"report {report_id} not linked, scored and queued: {linked, band, queued}"
    )


def test_rest_report_reaches_its_queue(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    created = client.post("/api/v1/reports", json=REPORT, headers=key(tenants.write_key))
    assert created.status_code == 201
    agency, _ = wait_in_queue(database, created.json()["id"])
    assert agency == tenants.esp_id


def test_bulk_rest_reports_reach_their_queue(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    lines = "\n".join(
        f'{{"summary": "Report {n}", "platform_category": "social_media", '
        f'"offence_types": ["grooming"], "external_id": "bulk-{n}"}}'
        for n in range(20)
    )
    sent = client.post(
        "/api/v1/reports/bulk",
        content=lines,
        headers={**key(tenants.write_key), "Content-Type": "application/x-ndjson"},
    )
    assert sent.status_code == 200, sent.text
    for report_id in sent.json()["report_ids"]:
        assert wait_in_queue(database, report_id)[0] == tenants.esp_id


def test_form_report_reaches_the_hotline_queue(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    page = client.get("/report")
    sent = client.post("/report", data={**FORM, "csrf_token": token(page.text)})
    found = re.search(r'class="reference">V-(\d+)<', sent.text)
    assert found is not None
    assert wait_in_queue(database, int(found.group(1)))[0] == tenants.hotline_id


def test_sms_and_in_app_reports_reach_their_queue(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    sms = client.post(
        "/api/v1/sms",
        json={"from": "+33612345678", "text": "Un adulte demande des photos à ma fille"},
        headers=key(tenants.write_key),
    )
    in_app = client.post(
        "/api/v1/in-app-reports",
        json={"what_happened": "A player asked me for photos", "platform": "Example Quest"},
        headers=key(tenants.write_key),
    )
    assert sms.status_code == in_app.status_code == 201, (sms.text, in_app.text)
    assert wait_in_queue(database, sms.json()["report_id"])[0] == tenants.esp_id
    assert wait_in_queue(database, in_app.json()["report_id"])[0] == tenants.esp_id


def test_esp_report_reaches_its_queue_after_finish(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        submitted = answer(
            http.post(
                "/submit",
                content=(GOLDEN / "full_report.xml").read_bytes(),
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )
        )
        esp_id = submitted.value("reportId")
        uploaded = answer(
            http.post(
                "/upload",
                data={"id": esp_id},
                files={"file": ("image.jpg", procedural_jpeg(3), "image/jpeg")},
            )
        )
        assert uploaded.code == 0
        finished = answer(http.post("/finish", data={"id": esp_id}))
        assert finished.code == 0
    from veille.intake.models import EspReport

    with database.session() as session:
        report_id = session.scalar(
            select(EspReport.report_id).where(EspReport.id == int(esp_id or 0))
        )
    assert report_id is not None
    assert wait_in_queue(database, report_id)[0] == tenants.esp_id
