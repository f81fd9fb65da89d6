"""ESP Basic-auth logins: equal work for unknown users, back-off, audited lock-out.

The counts live in the database, so they hold across server processes; each
test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from tests.web.conftest import ESP_PASSWORD, ESP_USER, Tenants, basic
from tests.web.esp_client import MINIMAL_REPORT, answer
from veille.intake.credentials import Principal, forget_verified_logins
from veille.intake.login_guard import Block, Keys
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.store.models import AuditEvent
from veille.web import create_app, esp_logins
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


def _blocked_for(state: AppState, user: str, password: str, address: str) -> int:
    """Seconds the attempt is refused for without a check (0: it was checked)."""
    result = _login(state, user, password, address)
    assert isinstance(result, Throttled)
    return result.retry_after_s


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


SHARED = "192.0.2.77"  # a NAT several providers and an attacker sit behind


def test_a_trusted_pair_logs_in_from_an_address_under_block(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> None:
    state = _state(database, intake_settings, esp_login_free_failures=1, esp_login_backoff_s=30.0)
    # Both providers have reported from the shared address before.
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, SHARED), Principal)
    assert isinstance(_login(state, "other-esp", "another password", SHARED), Principal)
    # Someone behind it guesses: first unknown user names, which block the address...
    for n in range(2):
        assert _login(state, f"guess-{n}", "wrong", SHARED) == Throttled(0)
    assert isinstance(_login(state, "guess-2", "wrong", SHARED), Throttled)
    assert _blocked_for(state, "guess-2", "wrong", SHARED) > 0  # now remembered
    # ... a new provider there waits, but those that logged in from there before do not,
    # from a server process that remembers the block, or from a fresh one.
    assert _blocked_for(state, "new-esp", "whatever", SHARED) > 0
    assert isinstance(_login(state, "other-esp", "another password", SHARED), Principal)
    fresh = _state(database, intake_settings, esp_login_free_failures=1, esp_login_backoff_s=30.0)
    assert isinstance(_login(fresh, "other-esp", "another password", SHARED), Principal)
    assert isinstance(_login(fresh, ESP_USER, ESP_PASSWORD, SHARED), Principal)


def test_a_trusted_pair_under_attack_is_throttled_and_locked_on_its_own(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings, scrypt_calls: list[int]
) -> None:
    state = _state(
        database,
        intake_settings,
        esp_login_free_failures=2,
        esp_login_backoff_s=0.001,
        esp_login_lockout_failures=4,
    )
    assert isinstance(_login(state, ESP_USER, ESP_PASSWORD, SHARED), Principal)
    assert isinstance(_login(state, "other-esp", "another password", SHARED), Principal)
    # Guessing the provider's password from its own address counts on the pair.
    for _ in range(4):
        assert isinstance(_login(state, ESP_USER, "guess", SHARED), Throttled)
        time.sleep(0.01)
    checked = len(scrypt_calls)
    locked = _login(state, ESP_USER, ESP_PASSWORD, SHARED)
    assert isinstance(locked, Throttled) and locked.retry_after_s > 800
    assert len(scrypt_calls) == checked
    # The other provider behind that address is not held by the pair's lock-out.
    assert isinstance(_login(state, "other-esp", "another password", SHARED), Principal)
    with database.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "esp.login_locked")
        ).all()
    assert sorted(e.object_type for e in events) == [
        "esp_login_address",
        "esp_login_pair",
        "esp_login_user",
    ]
    pair = next(e for e in events if e.object_type == "esp_login_pair")
    assert pair.object_id == f"{ESP_USER} from {SHARED}" and pair.agency_id == tenants.esp_id


def test_a_remembered_block_is_answered_without_a_query_or_a_thread(
    database: Database,
    tenants: Tenants,
    intake_settings: IntakeSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _state(database, intake_settings, esp_login_free_failures=1, esp_login_backoff_s=30.0)
    assert isinstance(_login(state, "other-esp", "another password", ATTACKER), Principal)
    for _ in range(2):
        _login(state, ESP_USER, "wrong", ATTACKER)
    assert _blocked_for(state, ESP_USER, "wrong", ATTACKER) > 0  # read from the database
    statements: list[str] = []
    threads: list[int] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    real_run = esp_logins.run_in_threadpool

    async def counting_run(*args: Any, **kwargs: Any) -> Any:
        threads.append(1)
        return await real_run(*args, **kwargs)

    monkeypatch.setattr(esp_logins, "run_in_threadpool", counting_run)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        for user in (ESP_USER, "no-such-user", "another-unknown"):
            blocked = _login(state, user, "wrong", ATTACKER)
            assert isinstance(blocked, Throttled) and 0 < blocked.retry_after_s <= 30
        assert (statements, threads) == ([], [])
        # A pair trusted at that address still asks the database, and logs in.
        assert isinstance(_login(state, "other-esp", "another password", ATTACKER), Principal)
        assert statements and threads
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def test_remembered_blocks_are_bounded_and_expire() -> None:
    blocks = esp_logins.RememberedBlocks(limit=3)
    now = datetime.now(UTC)
    keys = [Keys(f"a{n}", f"u{n}", f"t{n}", f"p{n}") for n in range(5)]
    blocks.remember(tuple(Block(k.address, now + timedelta(seconds=10), frozenset()) for k in keys))
    assert len(blocks) == 3
    assert blocks.wait_s(keys[0], now) == 0  # the least recently used went first
    assert blocks.wait_s(keys[4], now) == 11
    assert blocks.wait_s(keys[4], now + timedelta(seconds=10)) == 0
    assert len(blocks) == 2
