"""Take-down notices: sent, re-sent until removed, escalated, confirmed by a provider, imported."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.casework.helpers import api_app, jsonl, make_world, smtp_server, webhook_server
from veille.casework.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_webhook_signature,
)
from veille.casework.errors import CaseworkError, ImportRefused, NotFound
from veille.casework.follow_up import follow_up_notices, send_notices
from veille.casework.models import (
    NoticeEventKind,
    NoticeState,
    TakedownEvent,
    TakedownNotice,
    TakedownProvider,
)
from veille.casework.notices import confirm_by_analyst, create_notice, notice_rows
from veille.casework.providers import configure_provider, issue_provider_token
from veille.casework.settings import CaseworkSettings
from veille.casework.takedown_import import import_notices
from veille.cli import app
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.store.reports import Viewer

T0 = datetime(2020, 4, 1, 9, 0, tzinfo=UTC)


def _events(database: Database, notice_id: int) -> list[str]:
    with database.session() as session:
        return [
            event.kind.value
            for event in session.scalars(
                select(TakedownEvent)
                .where(TakedownEvent.notice_id == notice_id)
                .order_by(TakedownEvent.id)
            )
        ]


def _notice(database: Database, viewer: Viewer, url: str, **kwargs: object) -> int:
    with database.session() as session:
        return create_notice(session, viewer, url, **kwargs).id  # type: ignore[arg-type]


def test_a_notice_is_sent_again_until_removed_then_never_again(database: Database) -> None:
    agencies = make_world(database)
    hotline = Viewer("analyst", agencies["Hotline FR"])
    with smtp_server() as (mailbox, settings):
        with database.session() as session:
            configure_provider(
                session,
                "Chirpline",
                domains=["chirpline.example"],
                contact_email="abuse@example.com",
            )
        notice_id = _notice(database, hotline, "https://cdn.chirpline.example/p/1")

        first = follow_up_notices(database, now=T0, settings=settings)
        assert (first.sent, first.renotified) == (1, 0)
        assert mailbox.recipients == [["abuse@example.com"]]
        assert "https://cdn.chirpline.example/p/1" in mailbox.messages[0].get_payload()
        # An hour later nothing is due; a day later the reminder goes.
        assert follow_up_notices(database, now=T0 + timedelta(hours=1), settings=settings).sent == 0
        assert len(mailbox.messages) == 1
        later = follow_up_notices(
            database, now=T0 + timedelta(hours=24, minutes=1), settings=settings
        )
        assert later.renotified == 1
        assert len(mailbox.messages) == 2
        assert mailbox.messages[1]["Subject"].startswith("Reminder")
        again = follow_up_notices(
            database, now=T0 + timedelta(hours=48, minutes=2), settings=settings
        )
        assert again.renotified == 1 and len(mailbox.messages) == 3

        with database.session() as session:
            confirm_by_analyst(
                session, hotline, notice_id, NoticeEventKind.REMOVED, at=T0 + timedelta(hours=50)
            )
        for hours in (73, 100, 500):
            done = follow_up_notices(database, now=T0 + timedelta(hours=hours), settings=settings)
            assert (done.sent, done.renotified, done.escalated) == (0, 0, 0)
        assert len(mailbox.messages) == 3

    assert _events(database, notice_id) == [
        "created", "sent", "renotified", "renotified", "removed",
    ]  # fmt: skip
    with database.session() as session:
        [row] = notice_rows(session)
    assert row.state == "removed" and row.notify_count == 3
    assert row.hours_to_removal() == pytest.approx(50.0)


def test_an_overdue_notice_is_escalated_once_and_the_sender_told(database: Database) -> None:
    agencies = make_world(database)
    police = Viewer("analyst", agencies["Police FR"])  # its contact: cyber@police.example.org
    with smtp_server() as (mailbox, settings):
        with database.session() as session:
            configure_provider(
                session, "Friendloop", domains=["friendloop.example"], contact_email="t@example.com"
            )
        notice_id = _notice(database, police, "https://friendloop.example/u/2")
        follow_up_notices(database, now=T0, settings=settings)
        at_72 = follow_up_notices(database, now=T0 + timedelta(hours=71), settings=settings)
        assert at_72.escalated == 0
        overdue = follow_up_notices(database, now=T0 + timedelta(hours=72), settings=settings)
        assert overdue.escalated == 1
        assert (
            follow_up_notices(database, now=T0 + timedelta(hours=90), settings=settings).escalated
            == 0
        )
    told = [
        m
        for m, to in zip(mailbox.messages, mailbox.recipients, strict=True)
        if to == ["cyber@police.example.org"]
    ]
    assert len(told) == 1 and told[0]["Subject"].startswith("Overdue")
    assert "escalated" in _events(database, notice_id)


def test_a_failing_smtp_server_records_the_failure_and_tries_again(database: Database) -> None:
    agencies = make_world(database)
    with database.session() as session:
        configure_provider(
            session, "Nowhere", domains=["nowhere.example"], contact_email="a@example.com"
        )
    notice_id = _notice(database, Viewer("a", agencies["Police FR"]), "http://nowhere.example/x")
    _notice(database, Viewer("a", agencies["Police FR"]), "http://nowhere.example/y")
    closed = CaseworkSettings(smtp_host="127.0.0.1", smtp_port=1, smtp_timeout_s=2)
    failed = follow_up_notices(database, now=T0, settings=closed)
    assert failed.failed == 2 and "127.0.0.1:1" in failed.failures[0]
    # The second notice does not wait for a server the run already found down.
    assert "not tried" in failed.failures[1]
    with smtp_server() as (mailbox, settings):
        # Never sent: tried again at the next run, not a day later.
        assert (
            follow_up_notices(database, now=T0 + timedelta(minutes=15), settings=settings).sent == 2
        )
    assert _events(database, notice_id) == ["created", "send_failed", "sent"]
    assert len(mailbox.messages) == 2


def test_a_webhook_gets_a_signed_body_it_can_verify(database: Database) -> None:
    agencies = make_world(database)
    secret = "s3cret-for-the-webhook-tests"
    with webhook_server() as (url, calls):
        with database.session() as session:
            configure_provider(
                session,
                "CloudDrop",
                domains=["clouddrop.example"],
                webhook_url=url,
                webhook_secret=secret,
            )
        notice_id = _notice(
            database, Viewer("a", agencies["Police DE"]), "https://clouddrop.example/f/9"
        )
        now = datetime.now(UTC)
        summary = send_notices(database, now=now, settings=CaseworkSettings())
        assert summary.sent == 1
    [call] = calls
    body = json.loads(call.body)
    assert body == {
        "notice_id": notice_id, "kind": "notice", "url": "https://clouddrop.example/f/9",
        "host": "clouddrop.example", "sender_agency": "Police DE", "provider": "CloudDrop",
        "sent_count": 1,
    }  # fmt: skip
    stamp, signature = call.headers[TIMESTAMP_HEADER], call.headers[SIGNATURE_HEADER]
    assert verify_webhook_signature(secret, stamp, call.body, signature, time.time())
    assert not verify_webhook_signature(
        "another-secret-entirely", stamp, call.body, signature, time.time()
    )
    assert not verify_webhook_signature(secret, stamp, call.body + b" ", signature, time.time())
    # A replay an hour later is refused even with the right signature.
    assert not verify_webhook_signature(secret, stamp, call.body, signature, time.time() + 3600)


def test_a_webhook_that_refuses_is_a_failed_sending(database: Database) -> None:
    agencies = make_world(database)
    with webhook_server(status=500) as (url, calls):
        with database.session() as session:
            configure_provider(
                session, "Down", domains=["down.example"], webhook_url=url, webhook_secret="x" * 20
            )
        _notice(database, Viewer("a", agencies["Police DE"]), "https://down.example/1")
        summary = send_notices(database, now=T0, settings=CaseworkSettings())
    assert summary.failed == 1 and "HTTP 500" in summary.failures[0] and len(calls) == 1


def test_the_provider_is_the_one_serving_the_longest_suffix_of_the_host(database: Database) -> None:
    agencies = make_world(database)
    viewer = Viewer("a", agencies["Police FR"])
    with database.session() as session:
        configure_provider(session, "Host A", domains=["example.net"])
        configure_provider(session, "Host B", domains=["media.example.net"])
        for url, expected in (
            ("https://www.example.net/a", "Host A"),
            ("https://x.media.example.net/b", "Host B"),
            ("HTTPS://Media.Example.NET./c", "Host B"),
        ):
            notice = create_notice(session, viewer, url)
            assert session.get(TakedownProvider, notice.provider_id).name == expected  # type: ignore[union-attr]
        # A host no provider serves gets a provider of its own, without channels.
        unknown = create_notice(session, viewer, "https://Unknown.example/x")
        made = session.get(TakedownProvider, unknown.provider_id)
        assert made is not None and made.name == "unknown.example"
        assert (made.contact_email, made.webhook_url) == (None, None)
        assert create_notice(session, viewer, "https://a.unknown.example/y").provider_id == made.id
        with pytest.raises(CaseworkError) as bad:
            create_notice(session, viewer, "ftp://example.net/x")
        assert bad.value.field == "url"
        with pytest.raises(NotFound, match="report_id"):
            create_notice(session, viewer, "https://www.example.net/a", report_id=999)


def test_provider_confirms_removal_and_a_wrong_token_is_refused_and_audited(
    database: Database,
) -> None:
    agencies = make_world(database)
    with database.session() as session:
        chirp = configure_provider(session, "Chirpline", domains=["chirpline.example"])
        other = configure_provider(session, "Other", domains=["other.example"])
        token = issue_provider_token(session, chirp)
        other_token = issue_provider_token(session, other)
    notice_id = _notice(
        database, Viewer("a", agencies["Police FR"]), "https://chirpline.example/p/1"
    )
    client = TestClient(api_app(database, agencies))
    path = f"/api/v1/takedown/provider/notices/{notice_id}/removed"

    for headers in ({}, {"X-Provider-Token": "vt_wrong"}, {"X-Provider-Token": token + "x"}):
        refused = client.post(path, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["detail"][0]["field"] == "X-Provider-Token"
    # Another provider's good token may not touch this notice.
    wrong_provider = client.post(path, headers={"X-Provider-Token": other_token})
    assert wrong_provider.status_code == 404, wrong_provider.text
    with database.session() as session:
        audited = session.execute(
            select(AuditEvent.actor, AuditEvent.success)
            .where(AuditEvent.action == "takedown.provider_removed")
            .order_by(AuditEvent.id)
        ).all()
        state = session.get(TakedownNotice, notice_id).state  # type: ignore[union-attr]
    assert [tuple(row) for row in audited] == [
        ("provider:unknown", False), ("provider:unknown", False), ("provider:unknown", False),
        ("provider:Other", False),
    ]  # fmt: skip
    assert state is NoticeState.PENDING

    too_early = client.post(
        path, headers={"X-Provider-Token": token}, json={"at": "2020-04-02T10:00:00Z"}
    )
    assert too_early.status_code == 409 and too_early.json()["detail"][0]["field"] == "at"
    at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    done = client.post(
        path, headers={"X-Provider-Token": token}, json={"at": at.isoformat(), "note": "gone"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "removed"
    assert datetime.fromisoformat(done.json()["removed_at"]) == at
    assert client.post(path, headers={"X-Provider-Token": token}).status_code == 409
    shown = client.get(
        f"/api/v1/takedown/notices/{notice_id}", headers={"X-Test-Agency": "Police FR"}
    )
    assert [e["kind"] for e in shown.json()["events"]] == ["created", "removed"]
    assert shown.json()["events"][1]["actor"] == "provider:Chirpline"
    # Another agency does not see Police FR's notice.
    assert (
        client.get(
            f"/api/v1/takedown/notices/{notice_id}", headers={"X-Test-Agency": "Police DE"}
        ).status_code
        == 404
    )


def test_agency_creates_and_lists_notices_through_the_api(database: Database) -> None:
    agencies = make_world(database)
    with database.session() as session:
        configure_provider(session, "Chirpline", domains=["chirpline.example"])
    client = TestClient(api_app(database, agencies))
    fr = {"X-Test-Agency": "Police FR"}
    made = client.post(
        "/api/v1/takedown/notices",
        headers=fr,
        json={"url": "https://chirpline.example/a", "content_cluster": "c-1"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["provider"] == "Chirpline" and made.json()["state"] == "pending"
    bad = client.post("/api/v1/takedown/notices", headers=fr, json={"url": "mailto:a@example.com"})
    assert bad.status_code == 422
    hidden = client.post(
        "/api/v1/takedown/notices", headers=fr, json={"url": "https://a.example/", "report_id": 7}
    )
    assert hidden.status_code == 404
    assert [n["url"] for n in client.get("/api/v1/takedown/notices", headers=fr).json()] == [
        "https://chirpline.example/a"
    ]
    assert (
        client.get("/api/v1/takedown/notices", headers={"X-Test-Agency": "Police DE"}).json() == []
    )


def _line(number: int, **overrides: object) -> dict[str, object]:
    line: dict[str, object] = {
        "notice_id": f"TD-{number}",
        "report_external_id": f"R-{number}",
        "sender_agency": "Hotline FR",
        "provider_agency": "Chirpline Inc.",
        "url": f"https://chirpline.example/p/{number}",
        "host": "chirpline.example",
        "sent_at": "2020-04-01T10:00:00+00:00",
        "acknowledged_at": "2020-04-01T11:00:00+00:00",
        "removed_at": "2020-04-02T10:00:00+00:00" if number % 2 else None,
    }
    line.update(overrides)
    return line


def test_import_is_idempotent_and_registers_the_hosts(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    path = tmp_path / "takedowns.jsonl"
    path.write_text(jsonl([_line(1), _line(2)]))
    first = import_notices(database, path, actor="t")
    assert (first.imported, first.unchanged, first.providers_added) == (2, 0, 1)
    again = import_notices(database, path, actor="t")
    assert (again.imported, again.unchanged) == (0, 2)
    with database.session() as session:
        rows = notice_rows(session)
        assert [(r.state, r.hours_to_removal()) for r in rows] == [
            ("removed", 24.0),
            ("acknowledged", None),
        ]
        # The imported host now finds its provider for a new notice.
        made = create_notice(
            session, Viewer("a", agencies["Police FR"]), "https://chirpline.example/new"
        )
        assert session.get(TakedownProvider, made.provider_id).name == "Chirpline Inc."  # type: ignore[union-attr]
    assert _events(database, rows[0].id) == ["sent", "acknowledged", "removed"]


def test_a_later_file_adds_removals_and_may_not_contradict_what_is_stored(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    path = tmp_path / "takedowns.jsonl"
    path.write_text(jsonl([_line(1), _line(2)]))
    import_notices(database, path, actor="t")
    path.write_text(jsonl([_line(1), _line(2, removed_at="2020-04-03T10:00:00+00:00")]))
    later = import_notices(database, path, actor="t")
    assert (later.imported, later.updated, later.unchanged) == (0, 1, 1)
    with database.session() as session:
        second = notice_rows(session)[1]
    assert second.state == "removed" and second.hours_to_removal() == 48.0
    assert _events(database, second.id) == ["sent", "acknowledged", "removed"]

    path.write_text(
        jsonl(
            [
                _line(1, removed_at="2020-04-05T10:00:00+00:00"),
                _line(2, url="https://chirpline.example/p/other"),
                _line(3),
            ]
        )
    )
    with pytest.raises(ImportRefused) as refused:
        import_notices(database, path, actor="t")
    assert {(p.line, p.field) for p in refused.value.problems} == {(1, "removed_at"), (2, "url")}
    with database.session() as session:
        assert len(notice_rows(session)) == 2


def test_import_with_bad_lines_names_line_and_field_and_writes_nothing(
    database: Database, tmp_path: Path
) -> None:
    make_world(database)
    path = tmp_path / "takedowns.jsonl"
    path.write_text(
        jsonl(
            [
                _line(1),
                _line(2, sent_at="2020-04-01T10:00:00"),
                _line(3, sender_agency="Nobody"),
                "{not json",
                _line(5, removed_at="2020-03-01T00:00:00Z"),
                _line(6, url="mailto:x@example.com"),
                _line(7, host="elsewhere.example"),
                _line(1),
                _line(9, colour="blue"),
            ]
        )
    )
    with pytest.raises(ImportRefused) as refused:
        import_notices(database, path, actor="t")
    found = {(p.line, p.field) for p in refused.value.problems}
    assert found == {
        (2, "sent_at"), (3, "sender_agency"), (4, "(line)"), (5, "(line)"),
        (6, "url"), (7, "host"), (8, "notice_id"), (9, "colour"),
    }  # fmt: skip
    assert "removed_at is before sent_at" in str(refused.value)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(TakedownNotice)) == 0
        assert session.scalar(select(func.count()).select_from(TakedownProvider)) == 0


def test_cli_import_refuses_a_bad_file_with_exit_code_1(database: Database, tmp_path: Path) -> None:
    make_world(database)
    path = tmp_path / "takedowns.jsonl"
    path.write_text(jsonl([_line(1), _line(2, url="")]))
    result = CliRunner().invoke(app, ["takedown", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: url" in result.output
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl([_line(1)]))
    result = CliRunner().invoke(app, ["takedown", "import", str(good), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 1
    listed = CliRunner().invoke(app, ["takedown", "list", "--as", "Hotline FR", "--json"])
    assert [n["external_id"] for n in json.loads(listed.output)] == ["TD-1"]
    removed = CliRunner().invoke(app, ["takedown", "removed", "1", "--as", "Hotline FR"])
    assert removed.exit_code == 2 and "already recorded as removed" in removed.output


def test_notices_not_sent_yet_come_last_on_both_engines(database: Database, tmp_path: Path) -> None:
    agencies = make_world(database)
    viewer = Viewer("a", agencies["Hotline FR"])
    pending = _notice(database, viewer, "https://chirpline.example/new")
    path = tmp_path / "takedowns.jsonl"
    path.write_text(jsonl([_line(1)]))
    import_notices(database, path, actor="t")
    with database.session() as session:
        assert [row.id for row in notice_rows(session, viewer)] == [pending + 1, pending]
        assert [row.state for row in notice_rows(session, state=NoticeState.PENDING)] == ["pending"]
