"""Screenshots of the analysts' pages on the demo data, for the README (docs/img/web-*.png).

    make demo
    .venv/bin/python scripts/web_screenshots.py --data-dir veille-demo --out docs/img

It adds (or resets) a user ``screenshots`` in the agency with the most
reports of the demo database, serves the app on a free local port, and
drives Debian's Chromium (``/usr/bin/chromium``) through log-in, the
dashboard, the queue, a report of a case with several reports, and that case.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from veille.accounts.models import Role, UserAccount
from veille.accounts.service import add_user, new_password
from veille.intake.settings import IntakeSettings
from veille.linking.models import ReportCluster
from veille.store.db import Database, create_veille_engine
from veille.store.models import Agency, Report
from veille.web import create_app

PAGES = ("dashboard", "queue", "report", "case")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare(database: Database) -> tuple[str, str, int | None]:
    """The user to log in as, its password, and a report of its agency in a case of 2+."""
    password = new_password()
    with database.session() as session:
        agency_id = session.scalar(
            select(Report.owner_agency_id)
            .group_by(Report.owner_agency_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        if agency_id is None or session.get(Agency, agency_id) is None:
            sys.exit("the database holds no report: run `make demo` first")
        existing = session.scalar(select(UserAccount).where(UserAccount.username == "screenshots"))
        if existing is not None:
            session.delete(existing)
            session.flush()
        add_user(
            session, "screenshots", agency_id, Role.ANALYST, password, actor="screenshots",
            must_change_password=False,
        )  # fmt: skip
        sizes = (
            select(ReportCluster.cluster_id, func.count().label("size"))
            .group_by(ReportCluster.cluster_id)
            .subquery()
        )
        report_id = session.scalar(
            select(Report.id)
            .join(ReportCluster, ReportCluster.report_id == Report.id)
            .join(sizes, sizes.c.cluster_id == ReportCluster.cluster_id)
            .where(Report.owner_agency_id == agency_id, sizes.c.size >= 3)
            .order_by(sizes.c.size.desc(), Report.id)
            .limit(1)
        )
    return "screenshots", password, report_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("veille-demo"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--lang", default="en", choices=["en", "fr"])
    args = parser.parse_args()
    database_file = args.data_dir.resolve() / "veille.db"
    if not database_file.exists():
        sys.exit(f"--data-dir: {database_file} does not exist (run `make demo` first)")
    os.environ["VEILLE_DATA_DIR"] = str(args.data_dir.resolve())
    database = Database(create_veille_engine(f"sqlite:///{database_file}"))
    user, password, report_id = _prepare(database)
    app = create_app(database, IntakeSettings(jobs_in_serve=False, worker_enabled=False))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/app/login?lang={args.lang}")
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.screenshot(path=str(args.out / "web-dashboard.png"))
        page.goto(f"{base}/app/queue")
        page.screenshot(path=str(args.out / "web-queue.png"))
        if report_id is not None:
            page.goto(f"{base}/app/reports/{report_id}")
            page.screenshot(path=str(args.out / "web-report.png"))
            page.click("a[href^='/app/cases/cc-']")
            page.screenshot(path=str(args.out / "web-case.png"))
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)
    print(f"wrote {', '.join(f'web-{name}.png' for name in PAGES)} to {args.out}")


if __name__ == "__main__":
    main()
