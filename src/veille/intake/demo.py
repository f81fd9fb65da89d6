"""``run_intake_demo``: every intake channel exercised once, for ``veille demo``.

The app is driven in-process through HTTP (Starlette's test client), exactly
as a provider, a platform, an SMS gateway and a member of the public would
use it; images are procedural, people and accounts synthetic.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import shlex
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select

from veille.core.demo import DemoContext, DemoSection, veille_invocation
from veille.intake.credentials import create_api_key, set_esp_credentials
from veille.intake.settings import IntakeSettings
from veille.intake.worker import MediaWorker
from veille.store.agencies import AgencySpec, ensure_agencies
from veille.store.db import Database
from veille.store.models import Agency
from veille.vocab import AgencyKind

DEMO_ESP = "Demo ESP"
DEMO_HOTLINE = "Demo Hotline"
DEMO_REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Online Enticement of Children for Sexual Acts</incidentType>
    <platform>ExampleChat</platform>
    <reportAnnotations><sextortion/></reportAnnotations>
    <incidentDateTime>2024-04-02T18:20:00Z</incidentDateTime>
  </incidentSummary>
  <internetDetails><chatImIncident><chatClient>ExampleChat</chatClient></chatImIncident></internetDetails>
  <personOrUserReported>
    <screenName>demo_suspect_01</screenName>
    <ipCaptureEvent><ipAddress>198.51.100.40</ipAddress><eventName>Login</eventName></ipCaptureEvent>
    <estimatedLocation><countryCode>FR</countryCode></estimatedLocation>
  </personOrUserReported>
</report>
"""
FILE_DETAILS = """<fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>
<fileAnnotations><possibleSelfProduction/></fileAnnotations><industryClassification>B2</industryClassification>
</fileDetails>"""


def demo_jpeg(seed: int, size: int = 192) -> bytes:
    """A benign procedural JPEG (coloured waves)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    a, b = rng.uniform(2, 8, 2)
    pixels = np.dstack(
        [127 + 120 * np.sin(2 * np.pi * a * x), 127 + 120 * np.cos(2 * np.pi * b * y), 255 * x * y]
    ).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _code(text: str) -> int:
    found = re.search(r"<responseCode>(\d+)</responseCode>", text)
    return int(found.group(1)) if found else -1


def _value(text: str, element: str) -> str:
    found = re.search(rf"<{element}>([^<]*)</{element}>", text)
    return found.group(1) if found else ""


def run_intake_demo(database: Database, create_app: Callable[..., Any]) -> dict[str, Any]:
    """Send one report through each channel of the app ``create_app(database, settings)``
    builds (the web app's factory: intake does not import the web app); returns what each
    stored, for printing."""
    with warnings.catch_warnings():
        # The demo drives the app in-process through Starlette's test client,
        # whose warning about its own future HTTP library means nothing to a
        # person watching the demo.
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
        from fastapi.testclient import TestClient

    with database.session() as session:
        ensure_agencies(
            session,
            [
                AgencySpec(DEMO_ESP, AgencyKind.ESP, "US", "safety@example.com"),
                AgencySpec(DEMO_HOTLINE, AgencyKind.HOTLINE, "FR", "contact@example.org"),
            ],
        )
        hotline = session.scalar(
            select(Agency.name)
            .where(Agency.kind == AgencyKind.HOTLINE)
            .order_by(Agency.id)
            .limit(1)
        )
        password = secrets.token_urlsafe(16)
        set_esp_credentials(session, DEMO_ESP, "demo-esp", password)
        _, key = create_api_key(session, DEMO_ESP, ["reports:write", "reports:read"], "veille demo")
    counts: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="veille-demo-") as folder:
        settings = IntakeSettings(
            spool_dir=Path(folder), worker_enabled=False, public_owner_agency=hotline
        )
        esp_auth = {
            "Authorization": "Basic " + base64.b64encode(f"demo-esp:{password}".encode()).decode()
        }
        api = {"X-API-Key": key}
        with TestClient(create_app(database, settings)) as client:
            submitted = client.post("/ispws/submit", content=DEMO_REPORT, headers=esp_auth).text
            report_id = _value(submitted, "reportId")
            files = []
            for seed in (1, 2):
                uploaded = client.post(
                    "/ispws/upload",
                    data={"id": report_id},
                    files={"file": (f"demo-{seed}.jpg", demo_jpeg(seed), "image/jpeg")},
                    headers=esp_auth,
                ).text
                files.append(_value(uploaded, "fileId"))
                client.post(
                    "/ispws/fileinfo",
                    content=FILE_DETAILS.format(report_id=report_id, file_id=files[-1]),
                    headers=esp_auth,
                )
            finished = client.post("/ispws/finish", data={"id": report_id}, headers=esp_auth).text
            counts["esp_api"] = int(_code(finished) == 0)
            counts["esp_files"] = len([f for f in files if f])
            created = client.post(
                "/api/v1/reports",
                json={
                    "platform_category": "social_media",
                    "offence_types": ["grooming"],
                    "identifiers": [{"kind": "email", "value": "demo.suspect@example.net"}],
                    "media": [{"md5": "0" * 31 + "1"}],
                },
                headers={**api, "Idempotency-Key": "demo-rest-1"},
            )
            counts["rest_api"] = int(created.status_code in (200, 201))
            bulk = "\n".join(
                f'{{"external_id": "demo-bulk-{n}", "platform_category": "online_gaming", "offence_types": ["grooming"]}}'
                for n in range(3)
            )
            stored = client.post(
                "/api/v1/reports/bulk",
                content=bulk,
                headers={**api, "Content-Type": "application/x-ndjson"},
            ).json()
            counts["rest_api_bulk"] = len(stored.get("report_ids", []))
            in_app = client.post(
                "/api/v1/in-app-reports",
                json={
                    "what_happened": "Someone asked me for photos",
                    "platform": "Example Quest",
                    "account_name": "demo_player_9",
                },
                headers=api,
            )
            counts["in_app"] = int(in_app.status_code == 201)
            sms = client.post(
                "/api/v1/sms",
                json={"from": "+33639981234", "text": "un adulte demande des photos a ma fille"},
                headers=api,
            )
            counts["sms"] = int(sms.status_code == 201)
            counts["sms_reply"] = sms.json().get("reply")
            page = client.get("/signaler").text
            found = re.search(r'name="csrf_token" value="([^"]+)"', page)
            token = found.group(1) if found else ""
            form = client.post(
                "/signaler",
                data={
                    "csrf_token": token,
                    "description": "Un inconnu a contacté mon fils dans un jeu en ligne.",
                    "category": "online_gaming",
                    "anonymous": "on",
                },
            )
            counts["hotline_form"] = int(form.status_code == 200)
        worker = MediaWorker(database)
        worker.drain()
        counts["files_hashed"] = worker.hashed
        counts["reports_media_matched"] = worker.matched_reports
    return counts


def step_intake_channels(context: DemoContext) -> DemoSection | None:
    """``veille demo`` step: one report through every intake channel (needs the web app)."""
    if context.create_app is None:
        return None
    counts = run_intake_demo(context.database, context.create_app)
    reply = counts.pop("sms_reply", None)
    lines = [f"{name}: {value}" for name, value in counts.items()]
    if reply:
        lines.append(f"SMS acknowledgement sent back: {reply!r}")
    lines.append(
        f"serve the same channels over HTTP with: VEILLE_DATA_DIR={shlex.quote(str(context.folder))} "
        f"{veille_invocation()} serve (see docs/intake.md)"
    )
    return DemoSection("intake channels (ESP API, REST API, form, in-app, SMS)", lines)


DEMO_STEPS = (step_intake_channels,)
