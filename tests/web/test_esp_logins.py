"""ESP Basic-auth logins: equal work for unknown users, back-off, audited lock-out.

The counts live in the database, so they hold across server processes; each
test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import ESP_PASSWORD, ESP_USER, Tenants, basic
from tests.web.esp_client import MINIMAL_REPORT, answer
from veille.intake.credentials import Principal, forget_verified_logins
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.web import create_app
from veille.web.esp_logins import Throttled, logins
from veille.web.state import AppState

ATTACKER = "192.0.2.66"
PROVIDER = "192.0.2.10"


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scrypt computations (the real function still runs)."""
    calls: list[int] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def _state(database: Database, tmp_settings: IntakeSettings, **changes: Any) -> AppState:
    return AppState(database, tmp_settings.model_copy(update=changes))


def _login(state: AppState, user: str, password: str, address: str) -> Principal | Throttled:
    forget_verified_logins()  # every attempt is checked, as in a fresh server process
    return asyncio.run(logins(state).check(user, password, address))


def test_an_unknown_user_costs_the_same_scrypt_as_a_wrong_password(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings, scrypt_calls: list[int]
) -> None:
    state = _state(database, intake_settings)
    assert isinstance(_login(state, ESP_USER, "wrong", ATTACKER), Throttled)
    assert len(scrypt_calls) == 1
    assert isinstance(_login(state, "no-such-user", "wrong", "192.0.2.67"), Throttled)
    assert len(scrypt_calls) == 2


def test_failures_back_off_without_checking_the_password_then_expire(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings, scrypt_calls: list[int]
) -> None:
    state = _state(database, intake_settings, esp_login_free_failures=2, esp_login_backoff_s=0.5)
    for _ in range(2):
        assert _login(state, ESP_USER, "wrong", ATTACKER) == Throttled(0)
    # The second failure was free; the third starts the back-off.
    assert _login(state, ESP_USER, "wrong", ATTACKER) == Throttled(0)
    checked = len(scrypt_calls)
    blocked = _login(state, ESP_USER, ESP_PASSWORD, ATTACKER)
    assert blocked == Throttled(1)  # even the right password waits, and costs no scrypt
    assert len(scrypt_calls) == checked
    time.sleep(0.6)
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, ATTACKER), Principal)


def test_a_lockout_is_audited_once_and_spares_other_addresses_and_users(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    state = _state(
        database,
        intake_settings,
        esp_login_free_failures=1,
        esp_login_backoff_s=0.001,
        esp_login_lockout_failures=3,
    )
    # The provider has reported from its own address before.
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, PROVIDER), Principal)
    for _ in range(3):
        _login(state, ESP_USER, "guess", ATTACKER)
        time.sleep(0.01)
    locked = _login(state, ESP_USER, ESP_PASSWORD, ATTACKER)
    assert isinstance(locked, Throttled) and locked.retry_after_s > 800
    # From another address, for the same user or another one, nothing changed.
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, PROVIDER), Principal)
    assert isinstance(_login(state, "other-esp", "another password", "192.0.2.20"), Principal)
    # A stranger's new address for the locked user name waits too: guesses spread over
    # many addresses are held back by the user name's count.
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, "192.0.2.99"), Throttled)
    with database.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "esp.login_locked")
        ).all()
    assert sorted(e.object_type for e in events) == ["esp_login_address", "esp_login_user"]
    assert all(e.agency_id == tenants.esp_id and not e.success for e in events)
    assert all("3 failed ESP logins" in (e.detail or "") for e in events)


def test_a_blocked_login_is_answered_429_with_retry_after(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    settings = intake_settings.model_copy(
        update={"esp_login_free_failures": 1, "esp_login_backoff_s": 30.0}
    )
    with TestClient(create_app(database, settings)) as client:
        wrong = basic(ESP_USER, "wrong")
        first = answer(client.post("/ispws/submit", content=MINIMAL_REPORT, headers=wrong))
        assert (first.status, first.code) == (401, 2000)
        second = client.post("/ispws/submit", content=MINIMAL_REPORT, headers=wrong)
        assert (second.status_code, answer(second).code) == (401, 2000)
        forget_verified_logins()
        blocked = client.post("/ispws/submit", content=MINIMAL_REPORT, headers=tenants.esp_auth)
        assert (blocked.status_code, answer(blocked).code) == (429, 2000)
        assert 0 < int(blocked.headers["Retry-After"]) <= 30
        assert "too many failed logins" in (answer(blocked).value("responseDescription") or "")
