"""Storing reports from channels: idempotency, country reasons, media state, ESP life cycle rules."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from veille.intake.channels import (
    ChannelInputError,
    FormReport,
    InAppReport,
    NoOwnerAgency,
    public_owner,
    receive_form_report,
    receive_in_app_report,
    receive_sms,
)
from veille.intake.esp import service
from veille.intake.models import EspReport, ReportMediaState
from veille.intake.schema import MediaIn, ReportIn
from veille.intake.settings import IntakeSettings
from veille.intake.store import IdempotencyConflict, Incoming, store_reports
from veille.intake.uploads import SpoolWriter, UploadTooLarge
from veille.intake.worker import MediaWorker, media_state
from veille.store.agencies import AgencySpec, add_agency
from veille.store.db import Database
from veille.store.models import Report
from veille.store.types import utcnow
from veille.vocab import AgencyKind, Channel, CountryReason, ReporterKind

MINIMAL = b"""<report><incidentSummary><incidentType>Child Sex Trafficking</incidentType>
<incidentDateTime>2024-05-01T08:30:00Z</incidentDateTime></incidentSummary></report>"""


@pytest.fixture
def hotline_and_esp(database: Database) -> tuple[int, int]:
    with database.session() as session:
        hotline = add_agency(session, AgencySpec("Hotline FR", AgencyKind.HOTLINE, "FR"))
        esp = add_agency(session, AgencySpec("Example ESP", AgencyKind.ESP, "US"))
        return hotline.id, esp.id


def _record(external_id: str, **extra: object) -> ReportIn:
    return ReportIn.model_validate(
        {
            "external_id": external_id,
            "channel": Channel.REST_API,
            "reporter_kind": ReporterKind.ESP,
            "received_at": utcnow(),
            "platform_category": "messaging",
            "offence_types": ["grooming"],
            **extra,
        }
    )


def test_store_is_idempotent_and_detects_conflicts(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    _, esp = hotline_and_esp
    with database.session() as session:
        first = store_reports(session.connection(), [Incoming(_record("A"), "api:1", esp)])
    with database.session() as session:
        replay = store_reports(session.connection(), [Incoming(_record("A"), "api:1", esp)])
    assert first[0].created and not replay[0].created
    assert first[0].report_id == replay[0].report_id
    with (
        pytest.raises(IdempotencyConflict, match="external_id: 'A'"),
        database.session() as session,
    ):
        store_reports(session.connection(), [Incoming(_record("A", summary="other"), "api:1", esp)])
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1


def test_phone_country_is_recorded_with_its_reason(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    hotline, _ = hotline_and_esp
    receipt = receive_sms(
        database,
        sender="+61 491 570 156",
        text="help please",
        received_at=None,
        owner_id=hotline,
        gateway="g1",
    )
    assert receipt.sender_country == "AU" and receipt.acknowledgement.startswith("Thank you")
    with database.session() as session:
        report = session.get(Report, receipt.report_id)
        assert report is not None
        assert (report.derived_country, report.country_reason) == ("AU", CountryReason.PHONE)
        assert report.channel is Channel.SMS


def test_form_ip_is_only_a_clue_and_falls_back(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    hotline, _ = hotline_and_esp
    stored = receive_form_report(
        database,
        FormReport(
            description="A stranger keeps messaging my daughter.",
            stated_country="BE",
            client_ip="203.0.113.9",
        ),
        hotline,
    )
    with database.session() as session:
        report = session.get(Report, stored.report_id)
        assert report is not None
        assert (report.derived_country, report.country_reason) == ("BE", CountryReason.STATED)
        assert report.identifiers == []
    with pytest.raises(ChannelInputError) as caught:
        receive_form_report(database, FormReport(description="short"), hotline)
    assert caught.value.field == "description"


def test_public_owner_is_configured_or_first_hotline(database: Database) -> None:
    with pytest.raises(NoOwnerAgency):
        public_owner(database, None)
    with database.session() as session:
        police = add_agency(session, AgencySpec("Police", AgencyKind.POLICE, "FR")).id
        hotline = add_agency(session, AgencySpec("Hotline", AgencyKind.HOTLINE, "FR")).id
    assert public_owner(database, None) == hotline
    assert public_owner(database, "Police") == police


def test_media_without_files_is_matched_by_the_worker(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    _, esp = hotline_and_esp
    stored = receive_in_app_report(
        database,
        InAppReport("I was sent this picture", "ExampleChat", media=(MediaIn(md5="a" * 32),)),
        esp,
        "in_app:test",
    )
    with database.session() as session:
        assert media_state(session, stored.report_id) == "pending"
    MediaWorker(database).drain()
    with database.session() as session:
        assert media_state(session, stored.report_id) == "matched"
        assert session.scalar(select(ReportMediaState.pending_files)) == 0


def test_esp_finished_report_cannot_change(
    database: Database, hotline_and_esp: tuple[int, int], tmp_path: Path
) -> None:
    _, esp = hotline_and_esp
    settings = IntakeSettings(spool_dir=tmp_path)
    report_id = service.submit_report(database, esp, MINIMAL, settings, "esp:test")
    done = service.finish_report(database, esp, report_id, "esp:test")
    assert done.file_ids == []
    for action in (
        lambda: service.finish_report(database, esp, report_id, "esp:test"),
        lambda: service.retract_report(database, esp, report_id, "esp:test"),
    ):
        with pytest.raises(service.EspError) as caught:
            action()
        assert caught.value.code == service.ALREADY_FINISHED
    with database.session() as session:
        report = session.get(Report, done.report_id)
        assert report is not None
        assert [o.offence_type.value for o in report.offences] == ["commercial_exploitation"]
        assert report.country_reason is CountryReason.UNKNOWN


def test_expiry_follows_the_later_of_the_two_deadlines(
    database: Database, hotline_and_esp: tuple[int, int], tmp_path: Path
) -> None:
    _, esp = hotline_and_esp
    settings = IntakeSettings(spool_dir=tmp_path, esp_open_ttl_s=3600, esp_idle_ttl_s=600)
    report_id = service.submit_report(database, esp, MINIMAL, settings, "esp:test")
    with database.session() as session:
        row = session.get(EspReport, report_id)
        assert row is not None
        assert row.expires_at - row.opened_at == timedelta(seconds=3600)
    assert service.expire_reports(database, utcnow() + timedelta(seconds=3000)) == 0
    assert service.expire_reports(database, utcnow() + timedelta(seconds=3700)) == 1


def test_spool_writer_limit_and_hashes(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, 10, "photo.JPG")
    writer.write(b"\xff\xd8\xff12")
    spooled = writer.finish()
    assert spooled.path.suffix == ".jpg" and spooled.media_type == "image/jpeg"
    assert spooled.md5 == hashlib.md5(b"\xff\xd8\xff12").hexdigest()
    assert spooled.sha256 == hashlib.sha256(b"\xff\xd8\xff12").hexdigest()
    assert spooled.size_bytes == 5
    big = SpoolWriter(tmp_path, 4, None)
    with pytest.raises(UploadTooLarge, match="file: larger than the limit of 4 bytes"):
        big.write(b"12345")
    assert sorted(p.name for p in tmp_path.iterdir()) == [spooled.path.name]


def test_interrupted_work_is_resumed_on_sqlite(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    _, esp = hotline_and_esp
    stored = receive_in_app_report(
        database,
        InAppReport("I was sent this", "ExampleChat", media=(MediaIn(md5="b" * 32),)),
        esp,
        "in_app:t",
    )
    with database.session() as session:
        session.execute(update(ReportMediaState).values(state="matching"))
    worker = MediaWorker(database)
    resumed = worker.resume_interrupted()
    assert resumed == (1 if database.dialect == "sqlite" else 0)
    if database.dialect == "sqlite":
        worker.drain()
        with database.session() as session:
            assert media_state(session, stored.report_id) == "matched"
