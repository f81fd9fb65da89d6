"""The capabilities' pages: trends, hash lists, take-downs, travel alerts, questionnaires, incidents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.linking.helpers import import_records, record
from tests.web.conftest import Tenants
from veille.accounts.models import Role
from veille.accounts.service import add_user
from veille.analytics.rollup import rebuild
from veille.casework.notices import create_notice
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.store.reports import Viewer
from veille.web import create_app

PASSWORD = "a long enough password"
PAGES = (
    "/app/trends",
    "/app/lists",
    "/app/takedowns",
    "/app/travel",
    "/app/surveys",
    "/app/incidents",
)


@pytest.fixture
def client(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> Iterator[TestClient]:
    settings = intake_settings.model_copy(update={"jobs_in_serve": False})
    with TestClient(create_app(database, settings)) as test_client:
        yield test_client


def _login(
    client: TestClient, database: Database, agency_id: int, role: Role = Role.ANALYST
) -> str:
    name = f"user-{agency_id}-{role.value}"
    with database.session() as session:
        add_user(session, name, agency_id, role, PASSWORD, actor="test", must_change_password=False)
    client.cookies.clear()
    page = client.get("/app/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/app/login",
        data={"csrf": token.group(1), "next": "/app", "username": name, "password": PASSWORD},
    )
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/app").text)
    assert found
    return found.group(1)


def test_every_page_answers_an_analyst_in_both_languages(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _login(client, database, tenants.police_id)
    for path in PAGES:
        for lang in ("en", "fr"):
            page = client.get(f"{path}?lang={lang}")
            assert page.status_code == 200, (path, lang)
            assert f'<html lang="{lang}">' in page.text
            assert "script-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/app/trends?interval=year").status_code == 422
    assert client.get("/app/trends?by=nothing-real").status_code == 422
    assert client.get("/app/takedowns?state=lost").status_code == 422


def test_trends_count_only_what_the_agency_may_see(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    import_records(
        database,
        tmp_path,
        [
            record(f"police-{n}", [], owner_agency="Police FR", received_at="2020-03-10T10:00:00Z")
            for n in range(3)
        ]
        + [
            record(
                f"hotline-{n}", [], owner_agency="Hotline FR", received_at="2020-03-11T10:00:00Z"
            )
            for n in range(5)
        ],
    )
    rebuild(database)
    _login(client, database, tenants.police_id)
    page = client.get("/app/trends?interval=month&by=&since=2020-03-01&until=2020-03-31")
    assert page.status_code == 200
    assert "<td>3</td>" in page.text and "<td>8</td>" not in page.text
    chart = client.get("/app/trends/chart.png?interval=month&by=&since=2020-03-01&until=2020-03-31")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    wide = client.get("/app/trends?interval=week&since=1990-01-01&until=2020-01-01")
    assert wide.status_code == 422


def test_take_down_notices_are_the_agencys_own(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    with database.session() as session:
        create_notice(
            session,
            Viewer(actor="test", agency_id=tenants.police_id),
            "https://files.example.com/a/1",
            provider="Example Files",
        )
    _login(client, database, tenants.police_id)
    assert "https://files.example.com/a/1" in client.get("/app/takedowns").text
    _login(client, database, tenants.hotline_id)
    assert "https://files.example.com/a/1" not in client.get("/app/takedowns").text


def test_a_travel_review_needs_a_working_role_and_the_agencys_alert(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    token = _login(client, database, tenants.police_id)
    missing = client.post(
        "/app/travel", data={"csrf": token, "alert_id": "999", "decision": "confirmed"}
    )
    assert missing.status_code == 404
    assert (
        client.post("/app/travel", data={"alert_id": "1", "decision": "confirmed"}).status_code
        == 403
    )
    token = _login(client, database, tenants.police_id, Role.AUDITOR)
    refused = client.post(
        "/app/travel", data={"csrf": token, "alert_id": "999", "decision": "confirmed"}
    )
    assert refused.status_code == 403


def test_a_questionnaire_is_answered_in_a_form_and_a_bad_answer_is_named(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    from sqlalchemy import select

    from veille.casework.models import QuestionnaireResponse
    from veille.casework.survey import define_questionnaire, send_questionnaire
    from veille.casework.survey_definition import QuestionnaireDefinition

    definition = QuestionnaireDefinition.model_validate(
        {
            "id": "trend-2020",
            "title": "Trends during the restrictions",
            "questions": [
                {
                    "id": "reports",
                    "text": "Did reports rise?",
                    "choices": ["yes", "no"],
                    "required": True,
                },
                {
                    "id": "staff",
                    "text": "Analysts on duty",
                    "kind": "number",
                    "minimum": 0,
                    "maximum": 500,
                },
                {"id": "notes", "text": "Anything else?", "kind": "open"},
            ],
        }
    )
    with database.session() as session:
        define_questionnaire(session, definition, actor="test")
        send_questionnaire(session, "trend-2020", [tenants.police_id], actor="test")
    token = _login(client, database, tenants.police_id)
    assert 'href="/app/surveys/trend-2020"' in client.get("/app/surveys").text
    form = client.get("/app/surveys/trend-2020")
    assert form.status_code == 200 and "Analysts on duty" in form.text
    bad = client.post(
        "/app/surveys/trend-2020",
        data={"csrf": token, "q.reports": "maybe", "q.staff": "many"},
    )
    assert bad.status_code == 422
    assert "expected one of yes, no" in bad.text and "expected a whole number" in bad.text
    good = client.post(
        "/app/surveys/trend-2020",
        data={"csrf": token, "q.reports": "yes", "q.staff": "12", "q.notes": "More grooming."},
        follow_redirects=False,
    )
    assert good.status_code == 303
    with database.session() as session:
        stored = session.scalars(select(QuestionnaireResponse)).one()
        assert stored.answers == {"reports": "yes", "staff": 12, "notes": "More grooming."}
        assert stored.channel == "form"
    # The questionnaire was not sent to Hotline FR: not found there.
    _login(client, database, tenants.hotline_id)
    assert client.get("/app/surveys/trend-2020").status_code == 404


def test_the_hash_lists_page_shows_each_import_as_a_version(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    from veille.media.listformats import parse_list
    from veille.media.lists import import_list, remove_items

    header = "md5,sha1,sha256,pdq,category,series,victim_identified,offender_identified,is_distributed,tags\n"
    first_md5, second_md5 = "0" * 31 + "1", "0" * 31 + "2"
    with database.session() as session:
        import_list(session, "bank", parse_list(header + f"{first_md5},,,,A,,,,,\n", "csv"), "csv")
        import_list(
            session,
            "bank",
            parse_list(header + f"{first_md5},,,,A,,,,,\n{second_md5},,,,B,,,,,\n", "csv"),
            "csv",
        )
        remove_items(session, "bank", [first_md5])
    _login(client, database, tenants.police_id)
    page = client.get("/app/lists").text
    assert "Versions of bank" in page
    assert "csv: 1 added, 0 updated, 0 unchanged, 0 removed" in page
    assert "csv: 1 added, 0 updated, 1 unchanged, 0 removed" in page
    assert "list.remove" in page and "1 removed" in page
