"""The analysts' pages: log-in, sessions, CSRF, lock-out, second factor, isolation, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.linking.helpers import email, import_records, record
from tests.web.conftest import Tenants
from veille.accounts.models import Role, UserAccount, WebSession
from veille.accounts.service import add_user, enrol_totp, set_totp_required
from veille.intake.settings import IntakeSettings
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.triage.scoring import score_reports
from veille.web import create_app

PASSWORD = "a long enough password"


@pytest.fixture
def client(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> Iterator[TestClient]:
    """The app without its job consumer: these tests link and score by hand, once."""
    settings = intake_settings.model_copy(update={"jobs_in_serve": False})
    with TestClient(create_app(database, settings)) as test_client:
        yield test_client


NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)


def _user(
    database: Database, name: str, agency_id: int, role: Role = Role.ANALYST, *, fresh: bool = False
) -> None:
    with database.session() as session:
        add_user(session, name, agency_id, role, PASSWORD, actor="test", must_change_password=fresh)


def _csrf(html: str, name: str = "csrf") -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _login(client: TestClient, name: str, password: str = PASSWORD, totp: str = "") -> int:
    page = client.get("/app/login")
    answer = client.post(
        "/app/login",
        data={
            "csrf": _csrf(page.text),
            "next": "/app",
            "username": name,
            "password": password,
            "totp": totp,
        },
        follow_redirects=False,
    )
    return answer.status_code


def _reports(database: Database, tmp_path: Path, tenants: Tenants) -> dict[str, int]:
    """Two reports of one user name: one of Police FR, one of Hotline FR (amber, not shared)."""
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "police-report",
                [email("keeper@example.com")],
                owner_agency="Police FR",
                flags=["ongoing_access"],
                summary="The reporter says the man lives with the girl.",
            ),
            record("hotline-report", [email("keeper@example.com")], owner_agency="Hotline FR"),
        ],
    )
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    return ids


def test_pages_need_a_session_and_log_in_comes_back(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    answer = client.get("/app/queue?band=P1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/app/login?next=/app/queue%3Fband%3DP1"
    _user(database, "ana", tenants.police_id)
    assert _login(client, "ana") == 303
    cookie = next(c for c in client.cookies.jar if c.name == "veille_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "strict"
    dashboard = client.get("/app")
    assert dashboard.status_code == 200
    assert "Police FR" in dashboard.text
    for header, value in {
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
    }.items():
        assert dashboard.headers[header] == value
    assert "script-src 'none'" in dashboard.headers["content-security-policy"]
    with database.session() as session:
        stored = session.scalars(select(WebSession)).one()
        # Only the token's hash is stored.
        assert stored.token_hash != client.cookies.get("veille_session")
        assert len(stored.token_hash) == 64


def test_a_wrong_password_is_refused_audited_and_locks_after_five(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _user(database, "ana", tenants.police_id)
    for _ in range(5):
        assert _login(client, "ana", "wrong password!!") == 401
    # Locked now: even the right password is refused until the lock ends.
    assert _login(client, "ana") == 429
    assert _login(client, "nobody-here") == 401
    with database.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["user.login", "user.locked"]))
        ).all()
        assert sum(1 for e in events if e.action == "user.login" and not e.success) == 7
        assert any(e.action == "user.locked" for e in events)
        user = session.scalars(select(UserAccount)).one()
        assert user.locked_until is not None
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    assert _login(client, "ana") == 303


def test_every_form_needs_its_csrf_token(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = _reports(database, tmp_path, tenants)
    _user(database, "ana", tenants.police_id)
    # The log-in form itself: no token, no log-in.
    refused = client.post("/app/login", data={"username": "ana", "password": PASSWORD})
    assert refused.status_code == 403
    assert _login(client, "ana") == 303
    data = {"action": "assign_me", "report_id": str(ids["police-report"])}
    assert client.post("/app/queue", data=data).status_code == 403
    assert client.post("/app/queue", data={**data, "csrf": "forged"}).status_code == 403
    token = _csrf(client.get("/app/queue").text)
    moved = client.post("/app/queue", data={**data, "csrf": token}, follow_redirects=False)
    assert moved.status_code == 303
    assert "assigned" in client.get("/app/queue").text


def test_an_agency_sees_its_reports_and_not_the_others(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = _reports(database, tmp_path, tenants)
    _user(database, "ana", tenants.police_id)
    assert _login(client, "ana") == 303
    own = client.get(f"/app/reports/{ids['police-report']}")
    assert own.status_code == 200
    assert "keeper" in own.text and "ongoing_access" in own.text
    other = client.get(f"/app/reports/{ids['hotline-report']}")
    assert other.status_code == 404
    assert "keeper" not in other.text
    with database.session() as session:
        refused = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "report.read", AuditEvent.success.is_(False)
            )
        ).all()
        assert [e.object_id for e in refused] == [str(ids["hotline-report"])]


def test_sharing_is_recorded_and_lets_the_other_agency_read(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = _reports(database, tmp_path, tenants)
    _user(database, "ana", tenants.police_id)
    _user(database, "hugo", tenants.hotline_id)
    assert _login(client, "ana") == 303
    page = client.get(f"/app/reports/{ids['police-report']}")
    shared = client.post(
        f"/app/reports/{ids['police-report']}/share",
        data={"csrf": _csrf(page.text), "agency_id": str(tenants.hotline_id)},
        follow_redirects=False,
    )
    assert shared.status_code == 303
    client.cookies.clear()
    assert _login(client, "hugo") == 303
    assert client.get(f"/app/reports/{ids['police-report']}").status_code == 200


def test_an_auditor_reads_but_changes_nothing(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = _reports(database, tmp_path, tenants)
    _user(database, "olga", tenants.police_id, Role.AUDITOR)
    assert _login(client, "olga") == 303
    queue = client.get("/app/queue")
    assert queue.status_code == 200
    assert 'name="report_id"' not in queue.text
    token = _csrf(queue.text)
    refused = client.post(
        "/app/queue",
        data={"csrf": token, "action": "assign_me", "report_id": str(ids["police-report"])},
    )
    assert refused.status_code == 403
    assert client.get("/app/audit").status_code == 200
    with database.session() as session:
        assert session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "triage.queue.change", AuditEvent.success.is_(False)
            )
        ).one()


def test_a_temporary_password_must_be_changed_first(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _user(database, "ana", tenants.police_id, fresh=True)
    assert _login(client, "ana") == 303
    answer = client.get("/app", follow_redirects=False)
    assert answer.headers["location"] == "/app/account/password"
    form = client.get("/app/account/password")
    token = _csrf(form.text)
    mismatch = client.post(
        "/app/account/password",
        data={
            "csrf": token,
            "current_password": PASSWORD,
            "new_password": "another long password",
            "new_password_again": "not the same at all",
        },
    )
    assert mismatch.status_code == 422
    changed = client.post(
        "/app/account/password",
        data={
            "csrf": token,
            "current_password": PASSWORD,
            "new_password": "another long password",
            "new_password_again": "another long password",
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert client.get("/app").status_code == 200


def test_the_second_factor_is_checked_once_and_required_per_agency(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _user(database, "ana", tenants.police_id)
    _user(database, "bob", tenants.police_id)
    with database.session() as session:
        secret, uri = enrol_totp(session, "ana", actor="test")
        set_totp_required(session, tenants.police_id, True, actor="test")
    assert uri.startswith("otpauth://totp/")
    assert _login(client, "ana") == 401  # no code
    code = pyotp.TOTP(secret).now()
    assert _login(client, "ana", totp=code) == 303
    client.cookies.clear()
    assert _login(client, "ana", totp=code) == 401  # a code is accepted once
    # Bob has no second factor and his agency requires one.
    assert _login(client, "bob") == 403


def test_an_idle_session_ends(client: TestClient, database: Database, tenants: Tenants) -> None:
    _user(database, "ana", tenants.police_id)
    assert _login(client, "ana") == 303
    with database.session() as session:
        stored = session.scalars(select(WebSession)).one()
        stored.last_seen_at = datetime.now(UTC) - timedelta(hours=2)
    assert client.get("/app", follow_redirects=False).status_code == 303
    with database.session() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_log_out_ends_the_session(client: TestClient, database: Database, tenants: Tenants) -> None:
    _user(database, "ana", tenants.police_id)
    assert _login(client, "ana") == 303
    token = _csrf(client.get("/app").text)
    assert (
        client.post("/app/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    )
    assert client.get("/app", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_pages_speak_the_chosen_language(
    client: TestClient, database: Database, tenants: Tenants, lang: str
) -> None:
    page = client.get(f"/app/login?lang={lang}")
    assert f'<html lang="{lang}">' in page.text
    assert ("Connexion" in page.text) is (lang == "fr")
    # The choice is kept for the next page.
    assert f'<html lang="{lang}">' in client.get("/app/login").text


def test_the_french_catalog_covers_every_word_of_the_pages() -> None:
    """Every ``_()`` of the analysts' pages and every ``N_()`` of the public form is in French."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    from veille.web.translations import LOCALE_DIR

    root = Path(__file__).resolve().parents[2]
    method_map = [
        ("src/veille/web/analyst_routes.py", "python"),
        ("src/veille/web/i18n.py", "python"),
        ("src/veille/web/admin_routes.py", "python"),
        ("src/veille/web/capability_pages.py", "python"),
        ("src/veille/web/templates/app/**.html", "jinja2"),
    ]
    options = {"src/veille/web/templates/app/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            root, method_map, options, keywords={**DEFAULT_KEYWORDS, "N_": None}
        )
        if isinstance(message, str)
    }
    assert len(found) > 150
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "veille.po").open("rb") as stream:
        catalog = read_po(stream, locale="fr")
    untranslated = sorted(m for m in found if not (catalog.get(m) and catalog.get(m).string))
    assert untranslated == []


def test_the_queue_rows_come_alone_for_the_live_queue(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = _reports(database, tmp_path, tenants)
    _user(database, "ana", tenants.police_id)
    assert _login(client, "ana") == 303
    queue = client.get("/app/queue")
    # Only the queue page may load a script, and only Veille's own.
    assert "script-src 'self'" in queue.headers["content-security-policy"]
    assert '<script src="/static/queue.js" defer></script>' in queue.text
    assert "script-src 'none'" in client.get("/app").headers["content-security-policy"]
    rows = client.get("/app/queue/rows?state=open")
    assert rows.status_code == 200
    assert rows.headers["x-queue-open"] == "1"
    assert f'href="/app/reports/{ids["police-report"]}"' in rows.text
    assert "<html" not in rows.text
    assert client.get("/app/queue/rows?poll=0").status_code == 422
    client.cookies.clear()
    assert client.get("/app/queue/rows", follow_redirects=False).status_code == 303


def _shown_secret(html: str) -> str:
    found = re.search(r'<div class="shown" role="status">.*?<code>([^<]+)</code>', html, re.S)
    assert found, html[:800]
    return found.group(1)


def test_an_agency_administrator_manages_its_users_and_keys_only(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _user(database, "boss", tenants.police_id, Role.ADMIN)
    _user(database, "hugo", tenants.hotline_id)
    assert _login(client, "boss") == 303
    page = client.get("/app/admin")
    assert page.status_code == 200
    token = _csrf(page.text)
    added = client.post(
        "/app/admin",
        data={"csrf": token, "action": "add_user", "username": "Ana", "role": "analyst"},
    )
    assert added.status_code == 200
    password = _shown_secret(added.text)
    # Shown once: the next page does not show it again.
    assert password not in client.get("/app/admin").text
    with database.session() as session:
        user = session.scalars(select(UserAccount).where(UserAccount.username == "ana")).one()
        assert user.agency_id == tenants.police_id and user.must_change_password
    # Another agency's user is "not found" for this administrator.
    other = client.post("/app/admin", data={"csrf": token, "action": "disable", "username": "hugo"})
    assert other.status_code == 422
    assert "no such user in your agency" in other.text
    key = client.post(
        "/app/admin",
        data={
            "csrf": token,
            "action": "add_key",
            "label": "uploader",
            "scope": ["reports:write", "admin"],
        },
    )
    secret = _shown_secret(key.text)
    assert secret.startswith("vk_")
    answer = client.get("/api/v1/reports", headers={"X-API-Key": secret})
    assert answer.status_code == 403  # reports:write only (the admin scope was not given)
    with database.session() as session:
        from veille.intake.models import ApiKey

        stored = session.scalars(select(ApiKey).where(ApiKey.label == "uploader")).one()
        assert stored.scopes == "reports:write"
        key_id = stored.id
    client.post("/app/admin", data={"csrf": token, "action": "revoke_key", "key_id": str(key_id)})
    assert client.get("/api/v1/reports", headers={"X-API-Key": secret}).status_code == 401
    with database.session() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "boss")))
    assert {"user.add", "api_key.create", "api_key.revoke"} <= actions


def test_only_administrators_reach_the_administration_page(
    client: TestClient, database: Database, tenants: Tenants
) -> None:
    _user(database, "ana", tenants.police_id, Role.SUPERVISOR)
    assert _login(client, "ana") == 303
    assert client.get("/app/admin").status_code == 403
    token = _csrf(client.get("/app").text)
    refused = client.post(
        "/app/admin", data={"csrf": token, "action": "add_user", "username": "x1", "role": "admin"}
    )
    assert refused.status_code == 403
    with database.session() as session:
        assert (
            session.scalars(select(UserAccount).where(UserAccount.username == "x1")).first() is None
        )
        assert session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "admin.read", AuditEvent.success.is_(False)
            )
        ).all()


def test_sharing_a_case_shares_the_agencys_reports_of_it_but_never_a_red_one(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    ids = import_records(
        database,
        tmp_path,
        [
            record("amber", [email("same@example.com")], owner_agency="Police FR"),
            record("green", [email("same@example.com")], owner_agency="Police FR", marking="green"),
            record("red-1", [email("kept@example.com")], owner_agency="Police FR", marking="red"),
            record("red-2", [email("kept@example.com")], owner_agency="Police FR", marking="red"),
        ],
    )
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    _user(database, "ana", tenants.police_id)
    _user(database, "hugo", tenants.hotline_id)
    assert _login(client, "ana") == 303
    report = client.get(f"/app/reports/{ids['amber']}")
    case_id = re.search(r'href="/app/cases/(cc-[0-9a-f]+)"', report.text)
    assert case_id
    case = client.get(f"/app/cases/{case_id.group(1)}")
    shared = client.post(
        f"/app/cases/{case_id.group(1)}/share",
        data={"csrf": _csrf(case.text), "agency_id": str(tenants.hotline_id)},
        follow_redirects=False,
    )
    assert shared.status_code == 303
    assert shared.headers["location"].endswith("shared=2")
    red_page = client.get(f"/app/reports/{ids['red-1']}")
    red_case = re.search(r'href="/app/cases/(cc-[0-9a-f]+)"', red_page.text)
    assert red_case
    red_shared = client.post(
        f"/app/cases/{red_case.group(1)}/share",
        data={"csrf": _csrf(red_page.text), "agency_id": str(tenants.hotline_id)},
        follow_redirects=False,
    )
    assert red_shared.headers["location"].endswith("shared=0")
    client.cookies.clear()
    assert _login(client, "hugo") == 303
    assert client.get(f"/app/reports/{ids['amber']}").status_code == 200
    assert client.get(f"/app/cases/{case_id.group(1)}").status_code == 200
    assert client.get(f"/app/reports/{ids['red-1']}").status_code == 404
    assert client.get(f"/app/cases/{red_case.group(1)}").status_code == 404
    with database.session() as session:
        details = sorted(
            session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "cluster.share"))
        )
    assert details == [
        "0 of 2 owned reports shared with Hotline FR",
        "2 of 2 owned reports shared with Hotline FR",
    ]


def test_pages_over_https_send_hsts(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    settings = intake_settings.model_copy(update={"jobs_in_serve": False})
    with TestClient(create_app(database, settings), base_url="https://testserver") as secure:
        page = secure.get("/app/login")
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert "Secure" in page.headers["set-cookie"]
    with TestClient(create_app(database, settings)) as plain:
        assert "strict-transport-security" not in plain.get("/app/login").headers


def test_hostile_bodies_are_refused_clearly_and_change_nothing(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    """Too big, wrong encoding, too many fields: a 4xx naming the problem, nothing stored."""
    ids = _reports(database, tmp_path, tenants)
    _user(database, "ana", tenants.police_id)
    # Too big, before the log-in is even checked: refused by the edge while it streams in.
    huge = client.post(
        "/app/login",
        content=b"username=" + b"a" * 2_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    assert _login(client, "ana") == 303
    token = _csrf(client.get("/app/queue").text)
    latin1 = client.post(
        "/app/queue",
        content=f"csrf={token}&action=assign_me&report_id={ids['police-report']}&note=\xe9".encode(
            "latin-1"
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert latin1.status_code == 400
    assert "not a UTF-8 form" in latin1.text
    many = "&".join([f"csrf={token}", "action=assign_me"] + [f"report_id={n}" for n in range(300)])
    crowded = client.post(
        "/app/queue", content=many, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert crowded.status_code == 400
    assert "more than 220 fields" in crowded.text
    with database.session() as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "triage.queue.state")
        ).all()
