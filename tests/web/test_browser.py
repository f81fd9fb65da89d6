"""The analysts' pages in a real browser: Debian's Chromium driven by Playwright, axe-core on each.

One journey: log in, see a new report appear in the queue without a reload,
work the queue, open a report, follow its case, share it with another
agency, switch language, log out. Keyboard use (the skip link
is the first stop and shows its focus) and WCAG 2.2 A/AA rules (axe-core,
shipped in ``axe-playwright-python``, injected from disk) are checked on
every page. Screenshots are kept in ``$VEILLE_TEST_ARTIFACTS/browser`` (by
default ``test-artifacts/browser`` in the repository, which git ignores).

The pages' storage is tested on both engines by ``test_analyst_pages.py``;
this journey runs on SQLite once. Without ``/usr/bin/chromium`` (installed by
``scripts/setup-system.sh``) it is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from tests.linking.helpers import email, import_records, record
from tests.web.conftest import Tenants
from veille.accounts.models import Role
from veille.accounts.service import add_user
from veille.intake.settings import IntakeSettings
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.triage.scoring import score_reports
from veille.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a long enough password"
NOW = datetime(2020, 4, 20, 12, tzinfo=UTC)
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/setup-system.sh)"
)


@pytest.fixture
def web_app(database: Database, tenants: Tenants, intake_settings: IntakeSettings) -> FastAPI:
    """The app without its job consumer: the test links and scores once, by hand."""
    if database.dialect != "sqlite":
        pytest.skip("the browser journey runs once, on SQLite (pages: both engines elsewhere)")
    return create_app(database, intake_settings.model_copy(update={"jobs_in_serve": False}))


@pytest.fixture
def artifacts() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder = Path(os.environ.get("VEILLE_TEST_ARTIFACTS", default)) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def _world(database: Database, tmp_path: Path, tenants: Tenants) -> dict[str, int]:
    ids = import_records(
        database,
        tmp_path,
        [
            record(
                "at-risk",
                [email("keeper@example.com")],
                owner_agency="Police FR",
                flags=["ongoing_access", "hands_on_abuse"],
                summary="The reporter says the man lives with the girl.",
            ),
            record(
                "same-man",
                [email("keeper@example.com")],
                owner_agency="Police FR",
                received_at="2020-04-12T10:00:00Z",
            ),
            record("elsewhere", [email("other@example.com")], owner_agency="Hotline FR"),
        ],
    )
    link_reports(database)
    score_reports(database, media_source=None, as_of=NOW)
    with database.session() as session:
        add_user(
            session, "ana", tenants.police_id, Role.ANALYST, PASSWORD, actor="test",
            must_change_password=False,
        )  # fmt: skip
    return ids


def _accessible(page: Any, name: str) -> None:
    """No WCAG 2.2 A/AA violation that axe-core can find on the page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    violations = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in results.response["violations"]
    ]
    assert violations == [], f"{name}: {violations}"


def test_an_analyst_works_a_report_from_log_in_to_log_out(
    browser: Any,
    live_server: str,
    database: Database,
    tenants: Tenants,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    ids = _world(database, tmp_path, tenants)
    # axe-core is injected by the test; the pages themselves allow no script.
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    page = context.new_page()

    def shot(name: str) -> None:
        _accessible(page, name)
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    page.goto(f"{live_server}/app/queue")
    assert page.url.startswith(f"{live_server}/app/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    shot("login")
    page.fill("#username", "ana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    # Back to the page asked for before log-in.
    assert page.url == f"{live_server}/app/queue"
    shot("queue")
    assert page.locator(f"a[href='/app/reports/{ids['elsewhere']}']").count() == 0

    # A report that arrives now appears without a reload (the queue's script polls).
    page.goto(f"{live_server}/app/queue?poll=1")
    arrived = import_records(
        database,
        tmp_path / "later",
        [record("arrived", [], owner_agency="Police FR", flags=["self_harm_threat"])],
    )["arrived"]
    score_reports(database, [arrived], media_source=None, as_of=NOW)
    page.wait_for_selector(f"a[href='/app/reports/{arrived}']", timeout=10_000)
    assert "Updated:" in page.inner_text("#queue-live")

    page.check(f"#pick-{ids['at-risk']}")
    page.select_option("#action", "assign_me")
    page.click("fieldset.actions button[type=submit]")
    assert "Done: 1 report(s) moved." in page.inner_text("main")
    assert "ana" in page.inner_text("table.queue")

    page.click("nav >> text=Dashboard")
    shot("dashboard")
    page.click(f"a[href='/app/reports/{ids['at-risk']}']")
    assert "lives with the girl" in page.inner_text("main")
    assert "ongoing_access" in page.inner_text("main")
    shot("report")

    page.click("a[href^='/app/cases/cc-']")
    assert f"/app/reports/{ids['same-man']}" in page.content()
    shot("case")

    page.go_back()
    page.select_option("#agency_id", label="Hotline FR")
    page.click("form.inline-form button[type=submit]")
    assert "Shared." in page.inner_text("main")

    page.click("text=Français")
    assert page.get_attribute("html", "lang") == "fr"
    assert "Tableau de bord" in page.inner_text("header")
    shot("report-fr")
    page.click("text=Se déconnecter")
    assert page.url.startswith(f"{live_server}/app/login")
    page.goto(f"{live_server}/app")
    assert page.url.startswith(f"{live_server}/app/login")
    context.close()


def test_the_accessibility_check_finds_what_it_should(browser: Any, database: Database) -> None:
    """The axe-core check above can fail: a page without language or labels does."""
    if database.dialect != "sqlite":
        pytest.skip("runs once")
    page = browser.new_page()
    page.set_content("<html><body><input type='text'><img src='x.png'></body></html>")
    with pytest.raises(AssertionError) as failed:
        _accessible(page, "bad page")
    assert "html-has-lang" in str(failed.value)
    assert "image-alt" in str(failed.value)
    page.close()


def test_the_administration_audit_and_capability_pages_are_accessible(
    browser: Any, live_server: str, database: Database, tenants: Tenants, artifacts: Path
) -> None:
    with database.session() as session:
        add_user(
            session, "boss", tenants.police_id, Role.ADMIN, PASSWORD, actor="test",
            must_change_password=False,
        )  # fmt: skip
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(f"{live_server}/app/login")
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Administration")
    page.fill("#new-username", "ana")
    page.click("button[value=add_user]")
    assert "Temporary password of ana" in page.inner_text("main")
    _accessible(page, "admin")
    page.screenshot(path=str(artifacts / "admin.png"), full_page=True)
    page.click("nav >> text=Audit trail")
    assert "user.add" in page.inner_text("main")
    _accessible(page, "audit")
    page.screenshot(path=str(artifacts / "audit.png"), full_page=True)
    for name in ("Trends", "Take-downs", "Travel", "Questionnaires", "Incidents", "Hash lists"):
        page.click(f"nav >> text={name}")
        assert page.locator("h1").count() == 1
        _accessible(page, name)
    page.context.close()
