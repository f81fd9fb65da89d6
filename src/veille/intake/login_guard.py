"""Failed ESP logins: back-off and audited lock-out, per client address, user name and pair.

A password check costs scrypt (about 50 ms of CPU), so unchecked guessing is
both a way to find passwords and a lever on every other provider's latency.
Failures are counted in ``intake_login_guard``, shared by every server
process (``veille serve --workers N``), under these keys: the client address
(an IPv6 address by its /64, which one client holds whole), the user name,
and, for a trusted pair (below), the pair of both. After
``esp_login_free_failures`` failures on a key, each further one blocks it for
``esp_login_backoff_s``, doubled each time (1, 2, 4… s by default); at
``esp_login_lockout_failures`` it is locked for ``esp_login_lockout_s`` and an
``esp.login_locked`` audit event is written. A blocked attempt is refused
before any password is checked.

Blocking a user name would let anyone lock a provider out by guessing its
name, and blocking an address would lock out every provider behind it (a
shared NAT) once anyone there guesses. So a (user, address) pair with a
successful login within :data:`TRUSTED_FOR` is *trusted*: an attempt of a
trusted pair is subject to neither the address's block nor the user name's,
only to the pair's own (same counts, back-off and lock-out). Its failures
count on the pair, the address and the user name alike. An attempt of any
other pair is subject to the address's block and the user name's.

The trusted key of a pair starts with 16 hex digits of the address's key and
16 of the user name's, so that the trusted pairs under a blocked address or
user name can be read at once (:meth:`LoginGuardStore.verdict`), for callers
that remember blocks in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, delete, literal, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from veille.intake.models import LoginGuard
from veille.intake.settings import IntakeSettings
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.types import utcnow

TRUSTED_FOR = timedelta(days=30)
PURGE_EVERY = timedelta(minutes=10)
_GUARDS = cast(Table, LoginGuard.__table__)


PREFIX = 16  # hex digits of the address's and the user name's key in a trusted key
TRUSTED_SET_LIMIT = 10_000  # trusted pairs read under one blocked key, at most


@dataclass(frozen=True)
class Keys:
    """The keys of one attempt: its address, its user name, and two of the pair of both.

    ``trusted`` marks a successful login of the pair (``updated_at`` its last
    one); ``pair`` counts the pair's failures while it is trusted.
    """

    address: str
    user: str
    trusted: str
    pair: str


@dataclass(frozen=True)
class Block:
    """A key blocked until ``until``, as the database said.

    For an address or user name, ``trusted`` holds the trusted keys of the
    pairs under it when it was read (the pairs its block does not apply to);
    None where there were too many to list, or for a pair's own block.
    """

    key: str
    until: datetime
    trusted: frozenset[str] | None = None


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be checked now: ``wait_s`` 0, or the seconds to wait."""

    wait_s: int
    trusted: bool
    blocks: tuple[Block, ...] = ()


def address_block(address: str) -> str:
    """What one client holds: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class LoginGuardStore:
    """Reads and counts failed logins in the database, under HMAC keys."""

    def __init__(
        self,
        database: Database,
        key_secret: bytes,
        settings: IntakeSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.settings = settings
        self._key_secret = key_secret
        self._clock = clock
        self._next_purge = clock()
        self._purge_lock = threading.Lock()

    def keys(self, username: str, address: str) -> Keys:
        """The stored keys of an attempt by ``username`` from ``address``."""
        block = address_block(address)
        address_key = self._key("address", block)
        user_key = self._key("user", username)
        pair = f"{username}\x00{block}"
        trusted = address_key[:PREFIX] + user_key[:PREFIX] + self._key("trusted", pair)[:32]
        return Keys(address_key, user_key, trusted, self._key("pair", pair))

    def now(self) -> datetime:
        """The store's clock."""
        return self._clock()

    def _key(self, kind: str, value: str) -> str:
        message = f"esp_login\x00{kind}\x00{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key_secret, message, hashlib.sha256).hexdigest()

    def wait_s(self, keys: Keys) -> int:
        """Seconds until an attempt with these keys may be checked (0: now)."""
        return self.verdict(keys).wait_s

    def verdict(self, keys: Keys) -> Verdict:
        """Whether an attempt with these keys may be checked now, and what blocks it.

        A trusted pair is subject only to its own block; any other attempt to its
        address's and its user name's. The blocks that apply are returned with,
        for an address or user name, the trusted pairs under it.
        """
        now = self._clock()
        counts = _GUARDS.c
        wanted = [keys.address, keys.user, keys.trusted, keys.pair]
        with self.database.engine.connect() as connection:
            rows = {
                row.key: row
                for row in connection.execute(
                    select(counts.key, counts.blocked_until, counts.updated_at).where(
                        counts.key.in_(wanted)
                    )
                )
            }
            mark = rows.get(keys.trusted)
            trusted_until = None if mark is None else mark.updated_at + TRUSTED_FOR
            trusted = trusted_until is not None and trusted_until > now
            blocks: list[Block] = []
            for key in [keys.pair] if trusted else [keys.address, keys.user]:
                row = rows.get(key)
                if row is None or row.blocked_until is None or row.blocked_until <= now:
                    continue
                if key == keys.pair and trusted_until is not None:
                    # Remembered no longer than the pair stays trusted.
                    blocks.append(Block(key, min(row.blocked_until, trusted_until)))
                else:
                    under = self._trusted_under(connection, key, key == keys.address, now)
                    blocks.append(Block(key, row.blocked_until, under))
        longest = max(((b.until - now).total_seconds() for b in blocks), default=0.0)
        return Verdict(int(longest) + 1 if longest > 0 else 0, trusted, tuple(blocks))

    def _trusted_under(
        self, connection: Any, key: str, is_address: bool, now: datetime
    ) -> frozenset[str] | None:
        """The trusted keys of the pairs of an address or user name (None: too many)."""
        pattern = key[:PREFIX] + "%" if is_address else "_" * PREFIX + key[:PREFIX] + "%"
        found = connection.execute(
            select(_GUARDS.c.key)
            .where(_GUARDS.c.key.like(pattern), _GUARDS.c.updated_at > now - TRUSTED_FOR)
            .limit(TRUSTED_SET_LIMIT + 1)
        ).scalars()
        keys = frozenset(found)
        return None if len(keys) > TRUSTED_SET_LIMIT else keys

    def succeeded(self, keys: Keys) -> None:
        """Remember the address as one the user logs in from."""
        now = self._clock()
        statement = (
            self._insert()
            .values(key=keys.trusted, failures=0, blocked_until=None, updated_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"updated_at": now})
        )
        with self.database.engine.begin() as connection:
            connection.execute(statement)

    def failed(
        self,
        keys: Keys,
        username: str,
        address: str,
        agency_id: int | None,
        trusted: bool = False,
    ) -> None:
        """Count a failure on the address, the user name and a trusted pair; block, lock out."""
        now = self._clock()
        counted = [(keys.address, "address"), (keys.user, "user")]
        if trusted:
            counted.append((keys.pair, "pair"))
        with self.database.session() as session:
            for key, what in counted:
                failures = self._count_failure(session, key, now)
                wait = self._wait_after(failures)
                if wait is not None:
                    session.execute(
                        update(_GUARDS).where(_GUARDS.c.key == key).values(blocked_until=now + wait)
                    )
                if failures == self.settings.esp_login_lockout_failures:
                    self._audit_lockout(session, what, username, address, agency_id, failures)
            if self._purge_due(now):
                stale = now - max(TRUSTED_FOR, timedelta(seconds=self.settings.esp_login_lockout_s))
                session.execute(delete(_GUARDS).where(_GUARDS.c.updated_at < stale))

    def _count_failure(self, session: Session, key: str, now: datetime) -> int:
        """Add one failure to ``key`` atomically (across processes); returns the count.

        Failures older than the lock-out are forgotten: the count restarts at 1.
        """
        forget_before = now - timedelta(seconds=self.settings.esp_login_lockout_s)
        counts = _GUARDS.c
        stale = counts.updated_at < forget_before
        upsert = (
            self._insert()
            .values(key=key, failures=1, blocked_until=None, updated_at=now)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": _case(stale, 1, counts.failures + 1),
                    "blocked_until": _case(stale, None, counts.blocked_until),
                    "updated_at": now,
                },
            )
            .returning(counts.failures)
        )
        return int(session.execute(upsert).scalar_one())

    def _wait_after(self, failures: int) -> timedelta | None:
        """How long a key stays blocked after its ``failures``-th failure (None: not at all)."""
        settings = self.settings
        if failures >= settings.esp_login_lockout_failures:
            return timedelta(seconds=settings.esp_login_lockout_s)
        beyond = failures - settings.esp_login_free_failures
        if beyond <= 0:
            return None
        doubled = settings.esp_login_backoff_s * 2 ** (beyond - 1)
        return timedelta(seconds=min(doubled, settings.esp_login_lockout_s))

    def _audit_lockout(
        self,
        session: Session,
        what: str,
        username: str,
        address: str,
        agency_id: int | None,
        failures: int,
    ) -> None:
        record_event(
            session,
            actor=f"esp:{username}"[:200],
            agency_id=agency_id,
            action="esp.login_locked",
            object_type=f"esp_login_{what}",
            object_id={
                "user": username,
                "address": address_block(address),
                "pair": f"{username} from {address_block(address)}",
            }[what][:200],
            detail=f"{failures} failed ESP logins for user {username[:100]!r} (last from "
            f"{address}); locked for {self.settings.esp_login_lockout_s} s",
            success=False,
        )

    def _insert(self) -> Any:
        dialect_insert = pg_insert if self.database.dialect == "postgresql" else sqlite_insert
        return dialect_insert(_GUARDS)

    def _purge_due(self, now: datetime) -> bool:
        with self._purge_lock:
            if now < self._next_purge:
                return False
            self._next_purge = now + PURGE_EVERY
            return True


def _case(condition: Any, when_true: Any, otherwise: Any) -> Any:
    value = null() if when_true is None else literal(when_true)
    return case((condition, value), else_=otherwise)
