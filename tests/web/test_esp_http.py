"""The ESP API over real HTTP: uvicorn serves the app, httpx plays the provider's client."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.web.conftest import Tenants, basic
from tests.web.esp_client import GOLDEN, MINIMAL_REPORT, answer, file_details, procedural_jpeg
from veille.intake.esp.lifecycle import expire_reports
from veille.intake.models import EspFile, EspReport, MediaDetail, ReportMediaState
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.store.models import MediaItem, Report
from veille.store.types import utcnow
from veille.web import esp_routes


def _wait_matched(database: Database, report_id: int, timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    state = "none"
    while time.monotonic() < deadline:
        with database.session() as session:
            state = (
                session.scalar(
                    select(ReportMediaState.state).where(ReportMediaState.report_id == report_id)
                )
                or "none"
            )
        if state == "matched":
            return state
        time.sleep(0.05)
    return state


def test_full_flow_submit_upload_fileinfo_finish(
    live_server: str, tenants: Tenants, database: Database, intake_settings: IntakeSettings
) -> None:
    images = [procedural_jpeg(1), procedural_jpeg(2)]
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        status = answer(http.get("/status"))
        assert (status.code, status.value("responseDescription")) == (
            0,
            "Remote User : example-esp",
        )
        submitted = answer(
            http.post(
                "/submit",
                content=(GOLDEN / "full_report.xml").read_bytes(),
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )
        )
        assert submitted.code == 0 and submitted.status == 200
        report_id = submitted.value("reportId")
        assert report_id is not None
        file_ids = []
        for number, image in enumerate(images):
            uploaded = answer(
                http.post(
                    "/upload",
                    data={"id": report_id},
                    files={"file": (f"image-{number}.jpg", image, "image/jpeg")},
                )
            )
            assert uploaded.code == 0
            assert uploaded.value("hash") == hashlib.md5(image).hexdigest()
            assert uploaded.value("reportId") == report_id
            file_ids.append(uploaded.value("fileId"))
        for file_id in file_ids:
            described = answer(
                http.post("/fileinfo", content=file_details(report_id, str(file_id)))
            )
            assert (described.code, described.value("fileId")) == (0, file_id)
        done = answer(http.post("/finish", data={"id": report_id}))
        assert done.text.count("<reportDoneResponse>") == 1
        assert (done.code, done.value("reportId"), done.values("fileId")) == (
            0,
            report_id,
            file_ids,
        )
        again = answer(http.post("/finish", data={"id": report_id}))
        assert (again.status, again.code) == (409, 5102)
        late_upload = answer(
            http.post("/upload", data={"id": report_id}, files={"file": ("x.jpg", images[0])})
        )
        assert late_upload.code == 5102

    with database.session() as session:
        report = session.scalar(select(Report).where(Report.source == f"esp:{tenants.esp_id}"))
        assert report is not None
        report_pk = report.id
        assert report.channel.value == "esp_api"
        assert report.reporter_kind.value == "esp"
        assert report.derived_country == "FR" and report.country_reason.value == "provided"
        assert report.platform_category.value == "website"
        assert {o.offence_type.value for o in report.offences} >= {
            "csam_possession",
            "sextortion",
            "live_streaming_abuse",
        }
        assert {f.flag.value for f in report.flags} >= {
            "escalated",
            "infant_victim",
            "viral",
            "self_generated",
        }
        assert sorted(str(m.md5) for m in report.media) == sorted(
            hashlib.md5(i).hexdigest() for i in images
        )
        assert {m.file_name for m in report.media} == {"IMG_0042.jpg"}
        details = session.scalars(select(MediaDetail)).all()
        assert [d.industry_classification for d in details] == ["A1", "A1"]
        assert '"SHA1"' in (details[0].original_hashes_json or "")
    assert _wait_matched(database, report_pk) == "matched"
    with database.session() as session:
        pdqs = session.scalars(select(MediaItem.pdq).where(MediaItem.report_id == report_pk)).all()
        assert all(p is not None and len(p) == 64 for p in pdqs)
    # Files are discarded once hashed.
    assert list((intake_settings.resolved_spool_dir()).glob("*")) == []


def test_retract_discards_the_report_and_its_files(
    live_server: str, tenants: Tenants, database: Database, intake_settings: IntakeSettings
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId")
        assert (
            answer(
                http.post(
                    "/upload", data={"id": report_id}, files={"file": ("a.jpg", procedural_jpeg(3))}
                )
            ).code
            == 0
        )
        retracted = answer(http.post("/retract", data={"id": report_id}))
        assert (retracted.code, retracted.value("reportId")) == (0, report_id)
        finish = answer(http.post("/finish", data={"id": report_id}))
        assert (finish.status, finish.code) == (409, 5101) and "was retracted" in finish.text
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 0
        assert session.scalar(select(func.count()).select_from(EspFile)) == 0
        assert session.scalar(select(EspReport.state)) == "retracted"
    assert list(intake_settings.resolved_spool_dir().glob("*")) == []


def test_unfinished_report_expires(
    live_server: str, tenants: Tenants, database: Database, intake_settings: IntakeSettings
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId")
        assert (
            answer(
                http.post(
                    "/upload", data={"id": report_id}, files={"file": ("a.jpg", procedural_jpeg(4))}
                )
            ).code
            == 0
        )
        with database.session() as session:
            row = session.get(EspReport, int(str(report_id)))
            assert row is not None
            # 24 h after opening or 1 h after the last change, whichever is later.
            assert row.expires_at - row.opened_at >= timedelta(hours=24)
            session.execute(update(EspReport).values(expires_at=utcnow() - timedelta(seconds=1)))
        expired_answer = answer(http.post("/finish", data={"id": report_id}))
        assert (expired_answer.status, expired_answer.code) == (404, 5001)
        assert "expired" in expired_answer.text
        assert expire_reports(database) == 1
        gone = answer(http.post("/finish", data={"id": report_id}))
        assert (gone.code, "expired" in gone.text) == (5001, True)
    with database.session() as session:
        assert session.scalar(select(EspReport.state)) == "expired"
        assert session.scalar(select(func.count()).select_from(Report)) == 0
    assert list(intake_settings.resolved_spool_dir().glob("*")) == []


def test_authentication_is_required_and_maps_to_the_agency(
    live_server: str, tenants: Tenants
) -> None:
    with httpx.Client(base_url=live_server + "/ispws") as http:
        missing = http.post("/submit", content=MINIMAL_REPORT)
        assert missing.status_code == 401 and "WWW-Authenticate" in missing.headers
        wrong = http.get("/status", headers=basic("example-esp", "wrong"))
        garbage = http.get("/status", headers={"Authorization": "Basic %%%"})
        for refused in (missing, wrong, garbage):
            assert (answer(refused).status, answer(refused).code) == (401, 2000)
        report_id = answer(
            http.post("/submit", content=MINIMAL_REPORT, headers=tenants.esp_auth)
        ).value("reportId")
        # Another provider cannot touch it: answered like a report that does not exist.
        other = answer(http.post("/finish", data={"id": report_id}, headers=tenants.other_esp_auth))
        assert (other.status, other.code) == (404, 5001)


BAD_BODIES = [
    # Not well-formed, or a construct refused outright: 4110, malformed XML submittal.
    (b"<report><incidentSummary>", 4110, "not well-formed"),
    (b"\xff\xfe<report/>", 4110, "not well-formed"),
    (b'<!DOCTYPE report [<!ENTITY e "x">]><report>&e;</report>', 4110, "forbidden XML construct"),
    # Well-formed but against the schema: 4100, validation failed.
    (
        MINIMAL_REPORT.replace("Online Enticement", "Online Entrapment").encode(),
        4100,
        "incidentType",
    ),
    (
        MINIMAL_REPORT.replace("2024-05-01T08:30:00Z", "yesterday").encode(),
        4100,
        "incidentDateTime",
    ),
]


def test_bad_xml_gets_4110_or_4100_naming_the_element(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        for body, code, expected in BAD_BODIES:
            result = answer(http.post("/submit", content=body))
            assert (result.status, result.code) == (400, code)
            assert expected in (result.value("responseDescription") or "")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EspReport)) == 0


def test_oversize_upload_is_refused_while_streaming(
    live_server: str,
    tenants: Tenants,
    database: Database,
    intake_settings: IntakeSettings,
) -> None:
    boundary = "veille-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{{report_id}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = b"\xff" * 65536
    count = intake_settings.max_upload_bytes // len(chunk) + 2

    def body(report_id: str) -> Iterator[bytes]:
        yield head.format(report_id=report_id).encode()
        for _ in range(count):
            yield chunk
        yield tail

    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = str(answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId"))
        # With a Content-Length the answer comes at once; chunked, the limit holds while streaming.
        for content in (b"".join(body(report_id)), body(report_id)):
            result = answer(http.post("/upload", content=content, headers=headers))
            assert (result.status, result.code) == (413, 4200)
            assert (result.value("responseDescription") or "").startswith(
                "file: larger than the limit"
            )
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EspFile)) == 0
    assert list(intake_settings.resolved_spool_dir().glob("*")) == []


def test_xsd_is_served(live_server: str) -> None:
    response = httpx.get(live_server + "/ispws/xsd")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert '<xs:element name="peer2peerIncident">' in response.text


def test_unknown_endpoint_and_wrong_method_get_report_responses(
    live_server: str, tenants: Tenants
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        unknown = answer(http.post("/submitt", content=MINIMAL_REPORT))
        assert (unknown.status, unknown.code) == (404, 4000)
        assert "/ispws/submitt" in (unknown.value("responseDescription") or "")
        wrong = http.get("/submit")
        assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
        assert answer(wrong).code == 4000
        assert http.head("/xsd").status_code == 200


def test_fileinfo_for_a_file_the_report_does_not_have_names_the_file_id(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId")
        with database.session() as session:
            before = session.get(EspReport, int(str(report_id)))
            assert before is not None
            changed_at = before.changed_at
        details = (
            f"<fileDetails><reportId>{report_id}</reportId><fileId>no-such-file</fileId>"
            "</fileDetails>"
        )
        refused = answer(http.post("/fileinfo", content=details))
        assert (refused.status, refused.code) == (404, 5002)
        assert "fileDetails/fileId" in (refused.value("responseDescription") or "")
        with database.session() as session:
            after = session.get(EspReport, int(str(report_id)))
            # A refused call changes nothing, not even the report's last-change time.
            assert after is not None and after.changed_at == changed_at
        assert answer(http.post("/finish", data={"id": report_id})).code == 0
        late = answer(http.post("/fileinfo", content=details))
        assert (late.status, late.code) == (409, 5102)


def test_an_upload_without_a_file_is_a_malformed_file_submittal(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        report_id = answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId")
        no_file = answer(http.post("/upload", data={"id": report_id}, files={"other": b"x"}))
        assert (no_file.status, no_file.code) == (400, 4200)
        assert "file" in (no_file.value("responseDescription") or "")
        not_multipart = answer(http.post("/upload", data={"id": report_id}))
        assert (not_multipart.status, not_multipart.code) == (400, 4200)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EspFile)) == 0


def test_an_unexpected_failure_is_answered_1000_server_error(
    tenants: Tenants, web_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(_: object) -> None:
        raise RuntimeError("a fault inside the server")

    monkeypatch.setitem(esp_routes.ROUTES, "status", ("GET", failing))
    with TestClient(web_app, raise_server_exceptions=False) as client:
        failed = answer(client.get("/ispws/status", headers=tenants.esp_auth))
    assert (failed.status, failed.code) == (500, 1000)
    assert failed.value("responseDescription") == "Server error"
    assert "a fault inside" not in failed.text  # nothing of the error's detail leaks out


def _profile_urls(count: int) -> bytes:
    urls = "".join(
        f"<profileUrl>https://social.example.com/large-report/profile-of-user-{n:05d}</profileUrl>"
        for n in range(count)
    )
    reported = f"<personOrUserReported><screenName>large_report_user</screenName>{urls}"
    report = MINIMAL_REPORT.replace("</report>", reported + "</personOrUserReported></report>")
    return report.encode()


def test_a_large_report_goes_through_on_every_engine(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    """Over 64 KiB of XML: on PostgreSQL its parsing and its finish run in worker threads."""
    body = _profile_urls(900)
    assert len(body) > 64 * 1024
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        submitted = answer(http.post("/submit", content=body))
        assert submitted.code == 0, submitted.text
        report_id = submitted.value("reportId")
        uploaded = answer(
            http.post(
                "/upload", data={"id": report_id}, files={"file": ("a.jpg", procedural_jpeg(5))}
            )
        )
        assert uploaded.code == 0
        done = answer(http.post("/finish", data={"id": report_id}))
        assert (done.code, len(done.values("fileId"))) == (0, 1)
    with database.session() as session:
        report = session.scalar(select(Report).where(Report.source == f"esp:{tenants.esp_id}"))
        assert report is not None
        assert len(report.identifiers) == 901 and len(report.media) == 1


def test_a_report_that_could_not_be_stored_is_refused_not_failed(
    live_server: str, tenants: Tenants, database: Database
) -> None:
    """Over 1,000 identifiers at submit; a file name over 500 characters at finish: 4100."""
    with httpx.Client(base_url=live_server + "/ispws", headers=tenants.esp_auth) as http:
        too_many = answer(http.post("/submit", content=_profile_urls(1001)))
        assert (too_many.status, too_many.code) == (400, 4100)
        # The 1,001st identifier (the screen name is the first) is named, as it is found.
        assert (too_many.value("responseDescription") or "").startswith(
            "report/personOrUserReported/profileUrl[1000]: more than 1000 identifiers"
        )

        report_id = str(answer(http.post("/submit", content=MINIMAL_REPORT)).value("reportId"))
        uploaded = answer(
            http.post(
                "/upload", data={"id": report_id}, files={"file": ("a.jpg", procedural_jpeg(6))}
            )
        )
        details = (
            f"<fileDetails><reportId>{report_id}</reportId><fileId>{uploaded.value('fileId')}"
            f"</fileId><originalFileName>{'n' * 600}.jpg</originalFileName></fileDetails>"
        )
        assert answer(http.post("/fileinfo", content=details)).code == 0
        refused = answer(http.post("/finish", data={"id": report_id}))
        assert (refused.status, refused.code) == (400, 4100)
        assert "<reportDoneResponse>" in refused.text  # finish answers its own element
        assert "media.0.file_name" in refused.text  # in the comment that carries the reason
        # Nothing was stored and the report is still open: the provider can retract it.
        assert answer(http.post("/retract", data={"id": report_id})).code == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 0
