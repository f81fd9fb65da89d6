"""The form's rate limit and CSRF secret are shared by every server process.

``veille serve --workers N`` runs N apps on one database; here two
``create_app`` on the same database stand for two processes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.conftest import Tenants
from tests.web.test_form import FORM, token
from veille.intake.models import RateLimitCount, ServerSecret
from veille.intake.settings import IntakeSettings
from veille.store.db import Database
from veille.web import create_app
from veille.web.protection import (
    CSRF_SECRET_NAME,
    RATE_LIMIT_SECRET_NAME,
    CsrfGuard,
    RateLimiter,
    shared_secret,
)

WINDOW_S = 3600
WINDOW_START = 480_000 * WINDOW_S  # a window boundary (2024-10-04 00:00 UTC)


class FakeClock:
    """Wall-clock seconds that a test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def other_client(
    database: Database, tenants: Tenants, intake_settings: IntakeSettings
) -> Iterator[TestClient]:
    """A second app on the same database (a second server process), without a media worker."""
    settings = intake_settings.model_copy(update={"worker_enabled": False})
    with TestClient(create_app(database, settings)) as test_client:
        yield test_client


def _send(client: TestClient) -> int:
    page = client.get("/report")
    status: int = client.post("/report", data={**FORM, "csrf_token": token(page.text)}).status_code
    return status


def test_form_rate_limit_is_shared_by_two_app_instances(
    client: TestClient, other_client: TestClient, database: Database
) -> None:
    statuses = [_send(app_client) for app_client in (client, other_client, client, other_client)]
    assert statuses == [200, 200, 200, 429]
    page = other_client.get("/report")
    refused = other_client.post("/report", data={**FORM, "csrf_token": token(page.text)})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_S
    assert FORM["description"] in refused.text
    with database.session() as session:
        assert session.scalar(select(func.sum(RateLimitCount.count))) == 3


def test_csrf_token_of_one_instance_is_accepted_by_another(
    client: TestClient, other_client: TestClient, web_app: FastAPI
) -> None:
    page = client.get("/signaler")
    cookie = client.cookies["veille_csrf"]
    other_client.cookies.set("veille_csrf", cookie)
    sent = other_client.post("/signaler", data={**FORM, "csrf_token": token(page.text)})
    assert sent.status_code == 200
    assert re.search(r'class="reference">V-\d+<', sent.text)
    other_app = other_client.app
    assert isinstance(other_app, FastAPI)
    assert (
        web_app.state.form_guards.load()[0].secret == other_app.state.form_guards.load()[0].secret
    )
    # The token is still bound to its cookie on every instance.
    other_client.cookies.clear()
    other_client.cookies.set("veille_csrf", "0" * 32)
    forged = other_client.post("/signaler", data={**FORM, "csrf_token": token(page.text)})
    assert forged.status_code == 403


def test_shared_secrets_are_created_once_per_database(database: Database) -> None:
    first = shared_secret(database, CSRF_SECRET_NAME)
    assert shared_secret(database, CSRF_SECRET_NAME) == first
    assert len(first) == 32
    assert shared_secret(database, RATE_LIMIT_SECRET_NAME) != first
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ServerSecret)) == 2
    issued, nonce = CsrfGuard(first).issue()
    assert CsrfGuard(shared_secret(database, CSRF_SECRET_NAME)).check(issued, nonce)
    assert not CsrfGuard(shared_secret(database, "another")).check(issued, nonce)


def _limiters(database: Database, clock: FakeClock, limit: int) -> tuple[RateLimiter, RateLimiter]:
    secret = shared_secret(database, RATE_LIMIT_SECRET_NAME)
    return (
        RateLimiter(database, "hotline_form", limit, secret, WINDOW_S, clock),
        RateLimiter(database, "hotline_form", limit, secret, WINDOW_S, clock),
    )


def test_limit_is_shared_and_the_window_resets(database: Database) -> None:
    clock = FakeClock(WINDOW_START + 600)
    first, second = _limiters(database, clock, limit=3)
    decisions = [limiter.allow("192.0.2.10") for limiter in (first, second, first, second, first)]
    assert [decision.allowed for decision in decisions] == [True, True, True, False, False]
    assert decisions[3].retry_after_s == WINDOW_S - 600
    assert second.allow("192.0.2.11").allowed  # another address has its own count
    clock.now = WINDOW_START + WINDOW_S - 1
    refused = first.allow("192.0.2.10")
    assert (refused.allowed, refused.retry_after_s) == (False, 1)
    clock.now = WINDOW_START + WINDOW_S + 5
    assert [second.allow("192.0.2.10").allowed for _ in range(4)] == [True, True, True, False]
    with database.session() as session:
        windows = session.scalars(select(RateLimitCount.window_start).distinct()).all()
    # Rows of the past window were purged; only the current one is left.
    assert [window.timestamp() for window in windows] == [WINDOW_START + WINDOW_S]


def test_stored_key_is_a_keyed_digest_not_the_address(database: Database) -> None:
    clock = FakeClock(WINDOW_START)
    limiter, _ = _limiters(database, clock, limit=3)
    limiter.allow("192.0.2.10")
    limiter.allow("2001:db8::1")
    with database.session() as session:
        keys = set(session.scalars(select(RateLimitCount.key)).all())
    assert len(keys) == 2
    secret = shared_secret(database, RATE_LIMIT_SECRET_NAME)
    expected = hmac.new(secret, b"hotline_form\x00192.0.2.10", hashlib.sha256).hexdigest()
    assert expected in keys
    plain = hashlib.sha256(b"192.0.2.10").hexdigest()
    assert plain not in keys
    assert not any("192.0.2" in key or "2001" in key for key in keys)


def test_concurrent_attempts_from_two_instances_never_pass_the_limit(database: Database) -> None:
    clock = FakeClock(WINDOW_START + 1)
    limiters = _limiters(database, clock, limit=10)
    accepted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def attempt(limiter: RateLimiter) -> None:
        start.wait()
        for _ in range(6):
            allowed = limiter.allow("198.51.100.7").allowed
            with lock:
                accepted.append(allowed)

    threads = [threading.Thread(target=attempt, args=(limiters[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 24
    assert accepted.count(True) == 10
    with database.session() as session:
        assert session.scalar(select(func.sum(RateLimitCount.count))) == 10
