"""Casework on the job system and on its own migration branch; its settings are documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from rich.console import Console

from tests.casework.helpers import jsonl, make_world, smtp_server
from veille.casework.demo import step_casework
from veille.casework.notices import create_notice, notice_rows
from veille.casework.providers import configure_provider
from veille.casework.settings import CaseworkSettings
from veille.casework.tasks import TASK, request_follow_up
from veille.core.demo import DemoContext
from veille.flow import all_tasks, job_system
from veille.store import migrate
from veille.store.all_models import metadata
from veille.store.db import Database
from veille.store.reports import Viewer

CASEWORK_TABLES = (
    "takedown_provider", "takedown_provider_domain", "takedown_notice", "takedown_event",
    "school_incident", "questionnaire", "questionnaire_dispatch", "questionnaire_response",
)  # fmt: skip
DOCS = Path(__file__).resolve().parents[2] / "docs" / "casework.md"


def test_casework_branch_matches_models_and_downgrades(empty_database: Database) -> None:
    migrate.upgrade(empty_database)
    with empty_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if any(t in repr(d) for t in CASEWORK_TABLES)] == []
    migrate.downgrade(empty_database, "casework@base")
    migrate.upgrade(empty_database)


def test_the_follow_up_is_a_scheduled_task_of_the_one_job_system() -> None:
    [spec] = [spec for spec in all_tasks() if spec.name == TASK]
    assert spec.every_minutes == 15 and not spec.on_reports_stored


def test_a_new_notice_is_sent_by_the_job_system_it_requested(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    agencies = make_world(database)
    with smtp_server() as (mailbox, settings):
        monkeypatch.setenv("VEILLE_SMTP_HOST", settings.smtp_host)
        monkeypatch.setenv("VEILLE_SMTP_PORT", str(settings.smtp_port))
        with database.session() as session:
            configure_provider(
                session, "Chirpline", domains=["chirpline.example"], contact_email="a@example.com"
            )
            create_notice(
                session, Viewer("a", agencies["Police FR"]), "https://chirpline.example/1"
            )
        request_follow_up(database)
        request_follow_up(database)  # coalesced: one run serves both
        assert job_system(database).run_pending() == 1
    assert len(mailbox.messages) == 1
    with database.session() as session:
        [row] = notice_rows(session)
    assert row.state == "sent" and row.notify_count == 1


def test_every_casework_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [
        f"VEILLE_{name.upper()}"
        for name in CaseworkSettings.model_fields
        if f"VEILLE_{name.upper()}" not in text
    ]
    assert missing == []


def test_the_demo_step_imports_and_summarises(database: Database, tmp_path: Path) -> None:
    make_world(database)
    scenario = tmp_path / "scenario"
    scenario.mkdir()
    (scenario / "takedowns.jsonl").write_text(
        jsonl(
            [
                {
                    "notice_id": f"TD-{n}",
                    "report_external_id": None,
                    "sender_agency": "Hotline FR",
                    "provider_agency": "Chirpline",
                    "url": f"https://chirpline.example/{n}",
                    "host": "chirpline.example",
                    "sent_at": f"2020-0{n}-01T00:00:00+00:00",
                    "acknowledged_at": None,
                    "removed_at": f"2020-0{n}-0{n + 1}T00:00:00+00:00",
                }
                for n in (1, 4, 7)
            ]
        )
    )
    (scenario / "school-incidents.jsonl").write_text(
        jsonl(
            [
                {
                    "incident_id": "SI-1",
                    "country": "FR",
                    "school": "École (FR)",
                    "kind": "video_conference_intrusion",
                    "platform": "meetspace",
                    "occurred_at": "2020-04-01T09:00:00+00:00",
                    "reported_at": None,
                    "report_external_id": None,
                }
            ]
        )
    )
    (scenario / "truth.json").write_text(
        '{"takedowns": {"median_hours": {"before": 24.0, "during": 96.0, "after": 168.0}},'
        ' "countries": [{"code": "FR", "restrictions": {"start": "2020-03-01", "end": "2020-06-01"}}]}'
    )
    with database.session() as session:
        configure_provider(session, "Chirpline")
    # The provider is no agency here, so no country: no phase line, the totals only.
    context = DemoContext(tmp_path, scenario, database, Console(), seed=1)
    section = step_casework(context)
    assert section.lines[0].startswith(
        "take-down notices: 3 imported (0 providers); 3 of 3 removed"
    )
    assert "median 96.0 h" in section.lines[0]
    assert section.lines[-1].endswith("video-conference intrusions by year: 2020 1")
