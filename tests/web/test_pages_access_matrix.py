"""Access matrix of the analysts' pages: route × role × the reader's relation to the report.

Police FR owns one report per marking (clear, green, amber, amber+strict,
red), each either shared with Hotline FR or not (a red report cannot be
shared), and each linked to an unshared amber companion of its own. Users of
every role at Police FR (the owner) and at Hotline FR (the other agency)
read every report page, every case page and the queue, try to move and to
share, and read the audit trail. Each answer is held to what the markings
allow: a report is visible to its owner, to everyone when ``clear``, and to
an agency it is shared with unless ``red``. A cell leaks when a page shows a
report (or its id) the reader may not see; every refusal must be audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.linking.helpers import email, import_records, record
from tests.web.conftest import Tenants
from veille.accounts.models import Role
from veille.accounts.service import add_user
from veille.intake.settings import IntakeSettings
from veille.linking.clusters import cluster_of_report, public_cluster_ids
from veille.linking.engine import link_reports
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.store.reports import Viewer, share_report
from veille.triage.scoring import score_reports
from veille.vocab import Marking
from veille.web import create_app

PASSWORD = "a long enough password"
MARKINGS = [m.value for m in Marking]


@pytest.fixture
def client(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> Iterator[TestClient]:
    settings = intake_settings.model_copy(update={"jobs_in_serve": False})
    with TestClient(create_app(database, settings)) as test_client:
        yield test_client


def _world(database: Database, tmp_path: Path, tenants: Tenants) -> list[dict[str, object]]:
    """The reports of the matrix: id, marking, shared, case id, companion id."""
    lines, plan = [], []
    for marking in MARKINGS:
        for shared in (False, True) if marking != "red" else (False,):
            name = f"{marking}-{'shared' if shared else 'own'}"
            key = email(f"{name.replace('+', '.')}@example.com")
            lines.append(record(name, [key], owner_agency="Police FR", marking=marking))
            # The companion has the same marking as the report: a red report links only
            # with its owner's red reports.
            companion_marking = "red" if marking == "red" else "amber"
            lines.append(
                record(
                    f"{name}-companion", [key], owner_agency="Police FR", marking=companion_marking
                )
            )
            plan.append((name, marking, shared))
    ids = import_records(database, tmp_path, lines)
    link_reports(database)
    score_reports(database, media_source=None)
    owner = Viewer(actor="test", agency_id=tenants.police_id)
    reports = []
    with database.session() as session:
        for name, marking, shared in plan:
            if shared:
                share_report(session, owner, ids[name], tenants.hotline_id)
            cluster = cluster_of_report(session, ids[name])
            assert cluster is not None
            reports.append(
                {
                    "id": ids[name],
                    "marking": marking,
                    "shared": shared,
                    "case": public_cluster_ids(session, [cluster])[cluster],
                    "companion": ids[f"{name}-companion"],
                }
            )
    return reports


def _log_in(client: TestClient, name: str) -> str:
    client.cookies.clear()
    page = client.get("/app/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/app/login",
        data={"csrf": token.group(1), "next": "/app", "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    queue = client.get("/app/queue?state=open")
    found = re.search(r'name="csrf" value="([^"]+)"', queue.text)
    assert found
    return found.group(1)


def _refusals(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).where(AuditEvent.success.is_(False))) or 0)


def test_no_page_shows_what_the_markings_withhold_and_every_refusal_is_audited(
    client: TestClient, database: Database, tenants: Tenants, tmp_path: Path
) -> None:
    reports = _world(database, tmp_path, tenants)
    agencies = {"owner": tenants.police_id, "other_agency": tenants.hotline_id}
    with database.session() as session:
        for relation, agency_id in agencies.items():
            for role in Role:
                add_user(
                    session, f"{relation.replace('_', '-')}-{role.value}", agency_id, role,
                    PASSWORD, actor="test", must_change_password=False,
                )  # fmt: skip
    cells, leaks = 0, []
    for relation in agencies:
        for role in Role:
            csrf = _log_in(client, f"{relation.replace('_', '-')}-{role.value}")
            queue_page = client.get("/app/queue?state=open").text
            for report in reports:
                visible = (
                    relation == "owner"
                    or report["marking"] == "clear"
                    or (report["shared"] and report["marking"] != "red")
                )
                where = f"{relation}/{role.value}/{report['marking']}/shared={report['shared']}"
                before = _refusals(database)
                page = client.get(f"/app/reports/{report['id']}")
                cells += 1
                if page.status_code != (200 if visible else 404):
                    leaks.append(f"report page {where}: {page.status_code}")
                if not visible and _refusals(database) != before + 1:
                    leaks.append(f"report page {where}: refusal not audited")
                before = _refusals(database)
                case = client.get(f"/app/cases/{report['case']}")
                cells += 1
                if case.status_code != (200 if visible else 404):
                    leaks.append(f"case page {where}: {case.status_code}")
                if not visible and _refusals(database) != before + 1:
                    leaks.append(f"case page {where}: refusal not audited")
                # The unshared amber companion shows only to its owner.
                companion = f'/app/reports/{report["companion"]}"'
                if relation != "owner" and companion in case.text:
                    leaks.append(f"case page {where}: shows the hidden companion")
                # The queue holds the agency's own items only.
                in_queue = f'href="/app/reports/{report["id"]}"' in queue_page
                cells += 1
                if in_queue and relation != "owner":
                    leaks.append(f"queue {where}: lists another agency's report")
                # Moving an item: own queue and a working role only.
                before = _refusals(database)
                moved = client.post(
                    "/app/queue",
                    data={"csrf": csrf, "action": "assign_me", "report_id": str(report["id"])},
                    follow_redirects=False,
                )
                cells += 1
                allowed = relation == "owner" and role is not Role.AUDITOR
                if (moved.status_code == 303) != allowed:
                    leaks.append(f"queue move {where}: {moved.status_code}")
                if role is Role.AUDITOR and _refusals(database) != before + 1:
                    leaks.append(f"queue move {where}: refusal not audited")
                if allowed:  # put it back for the next role
                    client.post(
                        "/app/queue",
                        data={"csrf": csrf, "action": "release", "report_id": str(report["id"])},
                    )
                # Sharing: the owner's working roles, never a red report.
                before = _refusals(database)
                shared = client.post(
                    f"/app/reports/{report['id']}/share",
                    data={"csrf": csrf, "agency_id": str(tenants.esp_id)},
                    follow_redirects=False,
                )
                cells += 1
                may_share = allowed and report["marking"] != "red"
                if (shared.status_code == 303) != may_share:
                    leaks.append(f"share {where}: {shared.status_code}")
                if not may_share and _refusals(database) <= before:
                    leaks.append(f"share {where}: refusal not audited")
            audit = client.get("/app/audit")
            cells += 1
            if (audit.status_code == 200) != (role is not Role.ANALYST):
                leaks.append(f"audit page {relation}/{role.value}: {audit.status_code}")
    assert cells == 2 * len(Role) * (len(reports) * 5 + 1)
    assert leaks == []
