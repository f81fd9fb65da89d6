"""The public hotline form: both languages, CSRF, rate limit, no third-party content."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import Tenants
from veille.store.db import Database
from veille.store.models import Report


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


FORM = {
    "description": "Someone in a game asked my son for photos and his address.",
    "category": "online_gaming",
    "platform": "Example Quest",
    "suspect_account": "@Dark_Rider",
    "country": "FR",
    "incident_date": "2024-02-03",
    "anonymous": "on",
}


def test_form_in_english_and_french_without_third_party_content(client: TestClient) -> None:
    english = client.get("/report")
    french = client.get("/signaler")
    assert english.status_code == french.status_code == 200
    assert "Report child sexual exploitation" in english.text
    assert "Signaler une exploitation sexuelle" in french.text and 'lang="fr"' in french.text
    for page in (english, french):
        assert "<script" not in page.text
        assert not re.search(r'(src|href)="(https?:)?//', page.text)
        assert "script-src 'none'" in page.headers["content-security-policy"]
    assert client.get("/static/veille.css").status_code == 200


def test_form_report_is_stored_for_the_hotline(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    page = client.get("/signaler")
    sent = client.post("/signaler", data={**FORM, "csrf_token": token(page.text)})
    assert sent.status_code == 200
    reference = re.search(r'class="reference">V-(\d+)<', sent.text)
    assert reference is not None
    with database.session() as session:
        report = session.get(Report, int(reference.group(1)))
        assert report is not None
        assert (report.channel.value, report.reporter_kind.value) == ("hotline_form", "public")
        assert report.owner_agency_id == tenants.hotline_id
        assert (report.derived_country, report.country_reason.value) == ("FR", "stated")
        assert report.platform_category.value == "online_gaming"
        assert [(i.kind.value, i.value) for i in report.identifiers] == [("username", "dark_rider")]
        assert report.incident_at is not None and report.incident_at.isoformat().startswith(
            "2024-02-03"
        )


def test_post_without_a_valid_token_is_refused(
    client: TestClient, tenants: Tenants, database: Database
) -> None:
    assert client.post("/report", data=FORM).status_code == 403
    client.get("/report")
    assert client.post("/report", data={**FORM, "csrf_token": "forged.token"}).status_code == 403
    with database.session() as session:
        assert session.scalars(select(Report)).all() == []


def test_bad_field_is_named_and_the_text_kept(client: TestClient, tenants: Tenants) -> None:
    page = client.get("/report")
    sent = client.post(
        "/report", data={**FORM, "country": "Atlantis", "csrf_token": token(page.text)}
    )
    assert sent.status_code == 422
    assert "Please check this field" in sent.text
    assert FORM["description"] in sent.text
    page = client.get("/report")
    nul = client.post(
        "/report", data={**FORM, "platform": "a\x00b", "csrf_token": token(page.text)}
    )
    assert nul.status_code == 422


def test_rate_limit_per_address(client: TestClient, tenants: Tenants) -> None:
    statuses = []
    for _ in range(4):
        page = client.get("/report")
        statuses.append(
            client.post("/report", data={**FORM, "csrf_token": token(page.text)}).status_code
        )
    assert statuses == [200, 200, 200, 429]
