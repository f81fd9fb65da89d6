"""Storing reports from channels: idempotency, country reasons, media state, ESP life cycle rules."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
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
from veille.intake.esp.codes import ResponseCode
from veille.intake.media_jobs import media_state
from veille.intake.models import EspReport, ReportMediaState
from veille.intake.schema import MediaIn, ReportIn
from veille.intake.settings import IntakeSettings
from veille.intake.store import IdempotencyConflict, Incoming, store_reports
from veille.intake.uploads import SpoolWriter, UploadTooLarge
from veille.intake.worker import MediaWorker
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


def test_a_time_before_year_one_in_utc_is_a_validation_error() -> None:
    # Found by schemathesis: the offset moves 0001-01-01T00:00 out of datetime's range.
    with pytest.raises(ValidationError, match="incident_at") as raised:
        _record("A", incident_at="0001-01-01T00:00:00+00:01")
    assert "out of range" in str(raised.value)


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
        assert caught.value.code == ResponseCode.REPORT_ALREADY_FINISHED
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


def test_interrupted_work_is_resumed_at_start(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    """Rows a stopped process left marked ``matching`` are queued again when a worker starts."""
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
    assert worker.resume_interrupted() == 1
    worker.drain()
    with database.session() as session:
        assert media_state(session, stored.report_id) == "matched"


def test_postgresql_work_of_a_crashed_process_is_taken_over(
    database: Database, hotline_and_esp: tuple[int, int], tmp_path: Path
) -> None:
    """On PostgreSQL a file being hashed is held by a row lock: while its process lives no other
    worker takes it; when the process dies (its transaction ends) another worker hashes it."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite has one server process; its interrupted work is resumed at start")
    import io

    from PIL import Image

    from veille.intake.models import MediaJob
    from veille.store.models import MediaItem

    _, esp = hotline_and_esp
    settings = IntakeSettings(spool_dir=tmp_path)
    report_id = service.submit_report(database, esp, MINIMAL, settings, "esp:test")
    buffer = io.BytesIO()
    Image.effect_mandelbrot((128, 128), (-2, -1.5, 1, 1.5), 60).convert("RGB").save(buffer, "PNG")
    writer = SpoolWriter(tmp_path, 10**7, "fractal.png")
    writer.write(buffer.getvalue())
    service.add_upload(database, esp, report_id, writer.finish(), settings)
    done = service.finish_report(database, esp, report_id, "esp:test")
    worker = MediaWorker(database)
    with database.engine.connect() as other_process:
        other_process.execute(select(MediaJob.id).with_for_update())
        assert worker.run_once() == 0
        other_process.rollback()  # the other process dies: its locks go
    with database.session() as session:
        assert session.scalar(select(MediaJob.state)) == "pending"
    worker.drain()
    with database.session() as session:
        assert session.scalar(select(MediaJob.state)) == "done"
        assert session.scalar(select(MediaItem.pdq)) is not None
        assert media_state(session, done.report_id) == "matched"


def _layout(database: Database, report_id: int) -> dict[str, object]:
    """Everything stored for one report, without its ids."""
    from veille.store.models import (
        Identifier,
        MediaItem,
        ReportFlagRow,
        ReportIdentifier,
        ReportOffence,
    )

    with database.session() as session:
        report = session.get(Report, report_id)
        assert report is not None
        columns = {
            c.key: getattr(report, c.key)
            for c in Report.__table__.columns
            if c.key not in ("id", "external_id", "content_sha256", "created_at")
        }
        columns["offences"] = sorted(
            session.scalars(
                select(ReportOffence.offence_type).where(ReportOffence.report_id == report_id)
            )
        )
        columns["flags"] = sorted(
            session.scalars(select(ReportFlagRow.flag).where(ReportFlagRow.report_id == report_id))
        )
        columns["media"] = [
            tuple(getattr(m, c) for c in ("file_name", "size_bytes", "md5", "sha256", "pdq"))
            for m in session.scalars(
                select(MediaItem).where(MediaItem.report_id == report_id).order_by(MediaItem.id)
            )
        ]
        columns["identifiers"] = sorted(
            (str(kind), value, platform)
            for kind, value, platform in session.execute(
                select(Identifier.kind, Identifier.value, Identifier.platform)
                .join(ReportIdentifier, ReportIdentifier.identifier_id == Identifier.id)
                .where(ReportIdentifier.report_id == report_id)
            )
        )
        return columns


def test_one_report_is_laid_out_like_a_batch(
    database: Database, hotline_and_esp: tuple[int, int]
) -> None:
    """A single report takes a short path of its own; its rows match the importer's writer."""
    _, esp = hotline_and_esp
    extra: dict[str, object] = {
        "received_at": utcnow(),
        "incident_at": utcnow() - timedelta(days=2),
        "platform": "ExampleChat",
        "stated_country": "FR",
        "flags": ["viral", "self_generated"],
        "offence_types": ["grooming", "sextortion"],
        "summary": "benign test text",
        "identifiers": [
            {"kind": "username", "value": "night_owl", "platform": "ExampleChat"},
            {"kind": "ip", "value": "198.51.100.7"},
            {"kind": "email", "value": "someone@example.com"},
        ],
        "media": [
            {"file_name": "a.jpg", "size_bytes": 10, "md5": "0" * 32, "sha256": "1" * 64},
            {"file_name": "b.png", "size_bytes": 20, "pdq": "f" * 64, "pdq_quality": 90},
        ],
    }
    with database.session() as session:
        single = store_reports(
            session.connection(),
            [Incoming(_record("one", **extra), "api:1", esp, extra_ips=("203.0.113.9",))],
        )
    with database.session() as session:
        batch = store_reports(
            session.connection(),
            [
                Incoming(_record(name, **extra), "api:1", esp, extra_ips=("203.0.113.9",))
                for name in ("two", "three")
            ],
        )
    assert len(single[0].media_item_ids) == len(batch[0].media_item_ids) == 2
    alone = _layout(database, single[0].report_id)
    assert alone == _layout(database, batch[0].report_id) == _layout(database, batch[1].report_id)
    assert alone["identifiers"] == [
        ("email", "someone@example.com", ""),
        ("ip", "198.51.100.7", ""),
        ("username", "night_owl", "examplechat"),
    ]
