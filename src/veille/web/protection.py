"""Protection of the public form: CSRF tokens and a per-address rate limit.

``veille serve --workers N`` runs N processes (on PostgreSQL, possibly on
several machines), so both protections keep what they share in the database:

- The CSRF token is stateless: a random nonce, the time it was issued and an
  HMAC of both under a secret created once in ``intake_server_secret`` and
  loaded by every process, so a token issued by one process is accepted by
  any other, and after a restart. The nonce is also set in a cookie (double
  submit), so a page on another site cannot post a valid form. Tokens are
  valid for two hours.
- The rate limit counts accepted attempts per client address and fixed
  window in ``intake_rate_limit`` with one atomic upsert per attempt, so the
  processes together accept the limit, not N times it. The address is stored
  only as an HMAC under a second shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from veille.intake.models import RateLimitCount, ServerSecret
from veille.store.db import Database
from veille.store.types import utcnow

TOKEN_LIFETIME_S = 2 * 3600
CSRF_SECRET_NAME = "form_csrf"
RATE_LIMIT_SECRET_NAME = "rate_limit_key"
PURGE_EVERY_S = 60.0

_SECRETS = ServerSecret.__table__
_COUNTS = RateLimitCount.__table__


def _insert(database: Database, table: Any) -> Any:
    return (pg_insert if database.dialect == "postgresql" else sqlite_insert)(table)


def shared_secret(database: Database, name: str) -> bytes:
    """The 32-byte secret ``name`` of this database, created by whichever process asks first."""
    candidate = secrets.token_hex(32)
    with database.engine.begin() as connection:
        # Two processes starting at once: the second insert waits for the first
        # and does nothing, then both read the same row.
        connection.execute(
            _insert(database, _SECRETS)
            .values(name=name, secret_hex=candidate, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        stored: str = connection.execute(
            select(_SECRETS.c.secret_hex).where(_SECRETS.c.name == name)
        ).scalar_one()
    return bytes.fromhex(stored)


class CsrfGuard:
    """Issues and checks form tokens signed with ``secret``."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("a CSRF secret needs at least 16 bytes")
        self.secret = secret

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def issue(self) -> tuple[str, str]:
        """A (token, cookie nonce) pair."""
        nonce = secrets.token_hex(16)
        payload = f"{nonce}:{int(time.time())}".encode()
        token = base64.urlsafe_b64encode(payload).decode() + "." + self._sign(payload)
        return token, nonce

    def check(self, token: str | None, cookie: str | None) -> bool:
        """Whether the token is ours, fresh and matches the cookie."""
        if not token or not cookie or "." not in token:
            return False
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded.encode())
            nonce, issued = payload.decode().split(":")
            age = time.time() - int(issued)
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            hmac.compare_digest(signature, self._sign(payload))
            and hmac.compare_digest(nonce, cookie)
            and 0 <= age <= TOKEN_LIFETIME_S
        )


@dataclass(frozen=True)
class RateDecision:
    """Whether an attempt was accepted; if not, how long until the next one can be."""

    allowed: bool
    retry_after_s: int = 0


class RateLimiter:
    """At most ``limit`` attempts per address in each fixed window of ``window_s`` seconds.

    Windows start at multiples of ``window_s`` since the Unix epoch (on the
    hour for one hour). Refused attempts are not counted, as before. The
    count lives in the database, shared by every process using it.
    """

    def __init__(
        self,
        database: Database,
        name: str,
        limit: int,
        key_secret: bytes,
        window_s: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.name = name
        self.limit = limit
        self.window_s = window_s
        self._key_secret = key_secret
        self._clock = clock
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def key(self, address: str) -> str:
        """What is stored for ``address`` under this limit (an HMAC, never the address)."""
        message = f"{self.name}\x00{address}".encode()
        return hmac.new(self._key_secret, message, hashlib.sha256).hexdigest()

    def allow(self, address: str) -> RateDecision:
        """Count an attempt from ``address`` if it is under the limit."""
        now = self._clock()
        start_s = math.floor(now / self.window_s) * self.window_s
        window_start = datetime.fromtimestamp(start_s, UTC)
        counts = _COUNTS.c
        # One statement, atomic on both engines: a concurrent attempt from another
        # process waits for this row and then sees its count.
        upsert = (
            _insert(self.database, _COUNTS)
            .values(key=self.key(address), window_start=window_start, count=1)
            .on_conflict_do_update(
                index_elements=["key", "window_start"],
                set_={"count": counts.count + 1},
                where=counts.count < self.limit,
            )
            .returning(counts.count)
        )
        with self.database.engine.begin() as connection:
            accepted = connection.execute(upsert).first() is not None
            if self._purge_due(now):
                connection.execute(
                    delete(RateLimitCount).where(RateLimitCount.window_start < window_start)
                )
        if accepted:
            return RateDecision(True)
        return RateDecision(False, max(1, math.ceil(start_s + self.window_s - now)))

    def _purge_due(self, now: float) -> bool:
        with self._purge_lock:
            if now < self._next_purge:
                return False
            self._next_purge = now + PURGE_EVERY_S
            return True


class FormGuards:
    """The form's CSRF guard and rate limiter, loaded from the database on first use."""

    def __init__(self, database: Database, rate_limit: int) -> None:
        self.database = database
        self.rate_limit = rate_limit
        self._loaded: tuple[CsrfGuard, RateLimiter] | None = None
        self._lock = threading.Lock()

    def load(self) -> tuple[CsrfGuard, RateLimiter]:
        """The guard and the limiter (reads or creates the shared secrets once)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = (
                    CsrfGuard(shared_secret(self.database, CSRF_SECRET_NAME)),
                    RateLimiter(
                        self.database,
                        "hotline_form",
                        self.rate_limit,
                        shared_secret(self.database, RATE_LIMIT_SECRET_NAME),
                    ),
                )
            return self._loaded
