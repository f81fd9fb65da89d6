"""``/ispws/finish`` answers a ``reportDoneResponse`` on every path, refusals included.

Providers' clients typed on the published schema parse every finish answer as
that element; a refused finish answered as a ``reportResponse`` could not be read.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import fromstring

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.conftest import Tenants, basic
from tests.web.esp_client import MINIMAL_REPORT, answer, procedural_jpeg
from veille.intake.models import EspFile
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.web import create_app, esp_routes


def _done(response: httpx.Response) -> tuple[int, int, str | None]:
    """(HTTP status, responseCode, reportId) of a reportDoneResponse, which it must be."""
    root = fromstring(response.content)
    assert root.tag == "reportDoneResponse", response.text
    assert [child.tag for child in root] in (
        ["responseCode", "reportId", "files"],
        ["responseCode", "files"],
    )
    return response.status_code, int(root.findtext("responseCode") or -1), root.findtext("reportId")


def test_every_refused_finish_is_a_report_done_response(live_server: str, tenants: Tenants) -> None:
    with httpx.Client(base_url=live_server + "/ispws") as http:
        assert _done(http.post("/finish", data={"id": "1"})) == (401, 2000, None)
        wrong = http.post("/finish", data={"id": "1"}, headers=basic("example-esp", "wrong"))
        assert _done(wrong) == (401, 2000, None)
        http.headers.update(tenants.esp_auth)
        assert _done(http.post("/finish", data={"id": "²"})) == (400, 4100, None)
        assert _done(http.post("/finish", data={"id": "١"})) == (400, 4100, None)
        multipart = http.post("/finish", files={"id": (None, "1")})
        assert _done(multipart)[:2] == (400, 4100)
        too_large = http.post(
            "/finish",
            content=b"id=1&pad=" + b"x" * 70_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert _done(too_large)[:2] == (413, 4100)
        assert _done(http.post("/finish", data={"id": "999999"})) == (404, 5001, "999999")
        report_id = str(answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId"))
        assert _done(http.post("/finish", data={"id": report_id})) == (200, 0, report_id)
        again = http.post("/finish", data={"id": report_id})
        assert _done(again) == (409, 5102, report_id)
        assert "already finished" in again.headers["X-Response-Description"]
        assert "already finished" in again.text  # in a comment, for people reading it
        retracted = str(answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId"))
        assert answer(http.post("/retract", data={"id": retracted})).code == 0
        assert _done(http.post("/finish", data={"id": retracted})) == (409, 5101, retracted)


def test_a_throttled_finish_is_a_report_done_response(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    settings = intake_settings.model_copy(
        update={"esp_login_free_failures": 1, "esp_login_backoff_s": 30.0}
    )
    wrong = basic("example-esp", "wrong")
    with TestClient(create_app(database, settings)) as client:
        for _ in range(2):
            client.post("/ispws/finish", data={"id": "1"}, headers=wrong)
        blocked = client.post("/ispws/finish", data={"id": "1"}, headers=wrong)
    assert _done(blocked) == (429, 2000, None)
    assert int(blocked.headers["Retry-After"]) > 0


def test_a_failing_finish_is_a_report_done_response_1000(
    tenants: Tenants, web_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(_: object) -> None:
        raise RuntimeError("a fault inside the server")

    monkeypatch.setitem(esp_routes.ROUTES, "finish", ("POST", failing))
    with TestClient(web_app, raise_server_exceptions=False) as client:
        failed = client.post("/ispws/finish", data={"id": "1"}, headers=tenants.esp_auth)
    assert _done(failed) == (500, 1000, None)
    assert "a fault inside" not in failed.text


def test_uploads_to_one_report_are_capped(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    settings = intake_settings.model_copy(update={"esp_max_files_per_report": 2})
    with TestClient(create_app(database, settings)) as client:
        client.headers.update(tenants.esp_auth)
        report_id = answer(client.post("/ispws/submit", content=MINIMAL_REPORT)).value("reportId")
        codes = [
            answer(
                client.post(
                    "/ispws/upload",
                    data={"id": report_id},
                    files={"file": (f"{n}.jpg", procedural_jpeg(n, size=32))},
                )
            )
            for n in range(3)
        ]
        assert [c.code for c in codes] == [0, 0, 4100]
        assert codes[2].status == 409
        assert re.search(r"already has 2 files", codes[2].text)
        done = client.post("/ispws/finish", data={"id": report_id})
        assert _done(done)[:2] == (200, 0)
    assert not list((settings.resolved_spool_dir()).glob("*.part"))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EspFile)) == 0  # taken by finish


def test_an_upload_cut_before_its_closing_boundary_is_refused(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    """Depends on ``read_upload`` raising BadBody for a body without its closing boundary."""
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId")
        body = (
            b'--cut\r\nContent-Disposition: form-data; name="id"\r\n\r\n'
            + str(report_id).encode()
            + b'\r\n--cut\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 20_000
        )
        cut = answer(
            http.post(
                "/upload",
                content=body,
                headers={"Content-Type": "multipart/form-data; boundary=cut"},
            )
        )
        assert cut.code != 0 and cut.status == 400
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EspFile)) == 0
