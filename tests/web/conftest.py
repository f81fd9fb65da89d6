"""Scenarios for the web tests: an ESP, a hotline and a police unit with their credentials."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from veille.intake.credentials import create_api_key, forget_verified_logins, set_esp_credentials
from veille.intake.settings import IntakeSettings
from veille.store.agencies import AgencySpec, add_agency
from veille.store.db import Database
from veille.vocab import AgencyKind
from veille.web import create_app

ESP_USER = "example-esp"
ESP_PASSWORD = "correct horse battery staple"


@dataclass
class Tenants:
    """Agency ids and the secrets their clients use."""

    esp_id: int
    hotline_id: int
    police_id: int
    esp_auth: dict[str, str]
    other_esp_auth: dict[str, str]
    write_key: str
    read_key: str
    police_read_key: str


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def tenants(database: Database) -> Tenants:
    """The ESP 'Example ESP' (US), 'Hotline FR', 'Police FR' and a second ESP, with logins and keys."""
    forget_verified_logins()
    with database.session() as session:
        esp = add_agency(session, AgencySpec("Example ESP", AgencyKind.ESP, "US"))
        hotline = add_agency(session, AgencySpec("Hotline FR", AgencyKind.HOTLINE, "FR"))
        police = add_agency(session, AgencySpec("Police FR", AgencyKind.POLICE, "FR"))
        add_agency(session, AgencySpec("Other ESP", AgencyKind.ESP, "GB"))
        set_esp_credentials(session, "Example ESP", ESP_USER, ESP_PASSWORD)
        set_esp_credentials(session, "Other ESP", "other-esp", "another password")
        _, write_key = create_api_key(session, "Example ESP", ["reports:write", "reports:read"])
        _, read_key = create_api_key(session, "Example ESP", ["reports:read"])
        _, police_key = create_api_key(session, "Police FR", ["reports:read"])
        ids = (esp.id, hotline.id, police.id)
    return Tenants(
        *ids,
        esp_auth=basic(ESP_USER, ESP_PASSWORD),
        other_esp_auth=basic("other-esp", "another password"),
        write_key=write_key,
        read_key=read_key,
        police_read_key=police_key,
    )


@pytest.fixture
def intake_settings(tmp_path: Path) -> IntakeSettings:
    """Settings with a private spool folder, a small upload limit and a fast worker.

    The worker hashes in its own thread: starting the low-priority hashing
    process for every test would cost seconds each (it is tested in
    ``tests/intake/test_media_worker.py``).
    """
    return IntakeSettings(
        spool_dir=tmp_path / "spool",
        worker_hash_process=False,
        max_upload_bytes=2 * 1024 * 1024,
        worker_poll_s=0.05,
        form_rate_limit=3,
    )


@pytest.fixture
def web_app(database: Database, tenants: Tenants, intake_settings: IntakeSettings) -> FastAPI:
    return create_app(database, intake_settings)


@pytest.fixture
def client(web_app: FastAPI) -> Iterator[TestClient]:
    """An in-process client of the app (the media worker runs)."""
    with TestClient(web_app) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_server(web_app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free local port, for real HTTP clients; yields the base URL."""
    port = _free_port()
    # As `veille serve` runs it: X-Forwarded-For is read by the app (VEILLE_TRUSTED_PROXIES).
    server = uvicorn.Server(
        uvicorn.Config(
            web_app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
