"""``veille demo`` step: two analysts of two agencies, logged in to the web application.

The step creates (or resets) one analyst in each of the two agencies holding
the most reports, logs in as each through the app, and checks what each
sees: its own agency's queue and reports, and "not found" for a report of
the other agency. It ends with the address and both sets of credentials.
"""

from __future__ import annotations

import re
import shlex

from sqlalchemy import func, select

from veille.accounts.models import Role, UserAccount
from veille.accounts.service import add_user, new_password
from veille.core.demo import CLOSING_LINES, DemoContext, DemoSection, veille_invocation
from veille.store.models import Agency, Report

DEMO_ADDRESS = "http://127.0.0.1:8000/app"


def _demo_name(agency: Agency) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", agency.name.lower()).strip("-")
    return f"demo-{words}"[:64]


def _two_agencies(context: DemoContext) -> list[tuple[Agency, int]]:
    with context.database.session() as session:
        rows = session.execute(
            select(Agency, func.count(Report.id))
            .join(Report, Report.owner_agency_id == Agency.id)
            .group_by(Agency.id)
            .order_by(func.count(Report.id).desc(), Agency.name)
            .limit(2)
        ).all()
        for agency, _ in rows:
            session.expunge(agency)
        return [(agency, int(count)) for agency, count in rows]


def _ensure_user(context: DemoContext, agency: Agency) -> tuple[str, str]:
    name, password = _demo_name(agency), new_password()
    with context.database.session() as session:
        existing = session.scalar(select(UserAccount).where(UserAccount.username == name))
        if existing is not None:
            session.delete(existing)
            session.flush()
        add_user(
            session,
            name,
            agency.id,
            Role.ANALYST,
            password,
            actor="demo",
            must_change_password=False,
        )
    return name, password


def step_web_accounts(context: DemoContext) -> DemoSection | None:
    """Create the demo analysts and check, through the app, that each sees only its agency's."""
    if context.create_app is None:
        return None
    from fastapi.testclient import TestClient

    from veille.intake.settings import IntakeSettings

    agencies = _two_agencies(context)
    if len(agencies) < 2:
        return None
    users = [(agency, count, *_ensure_user(context, agency)) for agency, count in agencies]
    with context.database.session() as session:
        sample = {
            agency.id: session.scalar(
                select(Report.id).where(Report.owner_agency_id == agency.id).order_by(Report.id)
            )
            for agency, _ in agencies
        }
    settings = IntakeSettings(jobs_in_serve=False, worker_enabled=False)
    lines = []
    app = context.create_app(context.database, settings)
    for agency, count, name, password in users:
        other = next(a for a, _ in agencies if a.id != agency.id)
        with TestClient(app) as client:
            page = client.get("/app/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            client.post(
                "/app/login",
                data={
                    "csrf": token.group(1) if token else "",
                    "next": "/app",
                    "username": name,
                    "password": password,
                },
            )
            own = client.get(f"/app/reports/{sample[agency.id]}").status_code
            theirs = client.get(f"/app/reports/{sample[other.id]}").status_code
            queue = client.get("/app/queue")
        rows = len(re.findall(r'<a href="/app/reports/\d+">', queue.text))
        lines.append(
            f"{name} ({agency.name}, {count:,} reports): queue page {queue.status_code} with "
            f"{rows} reports; own report {sample[agency.id]}: {own}; "
            f"{other.name}'s report {sample[other.id]}: {theirs} (not visible)"
        )
    serve = f"VEILLE_DATA_DIR={shlex.quote(str(context.folder))} {veille_invocation()} serve"
    closing = [
        f"\nThe web application: {serve}, then open {DEMO_ADDRESS} and log in as",
        *(
            f"  {name} / {password}   ({agency.name}, analyst)"
            for agency, _, name, password in users
        ),
    ]
    context.results.setdefault(CLOSING_LINES, []).extend(closing)
    lines.append("address and log-ins: printed at the end")
    return DemoSection("web application (accounts, queue, report, case)", lines)


DEMO_STEPS = (step_web_accounts,)
