"""Credentials of machine clients: ESP Basic-auth accounts and REST API keys.

ESP passwords are stored as salted scrypt hashes; a successful check is
remembered in memory (keyed by a SHA-256 of the pair) so that a provider
sending thousands of requests does not pay scrypt each time. Every other
check pays scrypt once, an unknown user name included (against a dummy
hash); :mod:`veille.intake.login_guard` limits how often. API keys are
long random secrets (``vk_`` + 43 characters), so a plain SHA-256 at rest is
enough: nobody can guess one to test against the hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veille.intake.models import ApiKey, EspCredential
from veille.store.agencies import find_agency
from veille.store.types import utcnow


class Scope:
    """What an API key may do."""

    REPORTS_WRITE = "reports:write"
    REPORTS_READ = "reports:read"
    # Checking or changing how every report is scored is the installation's
    # business, not a reporting client's.
    ADMIN = "admin"

    ALL = (REPORTS_WRITE, REPORTS_READ, ADMIN)


@dataclass(frozen=True)
class Principal:
    """A machine client after authentication."""

    agency_id: int
    agency_name: str
    actor: str
    scopes: frozenset[str]


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# A checked login is remembered for five minutes: a changed password takes
# effect in every running server within that time.
VERIFIED_TTL_S = 300.0
_verified: dict[str, tuple[Principal, float]] = {}
_verified_lock = threading.Lock()


def hash_password(password: str) -> str:
    """A salted scrypt hash, as ``scrypt$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _password_matches(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


def set_esp_credentials(
    session: Session, agency: str, username: str, password: str | None = None
) -> str:
    """Create or replace the ESP login of ``agency``; returns the password (generated if None)."""
    found = find_agency(session, agency)
    username = username.strip()
    if not username or ":" in username:
        raise ValueError("username: must not be empty nor contain ':'")
    password = password or secrets.token_urlsafe(24)
    existing = session.scalar(select(EspCredential).where(EspCredential.username == username))
    if existing is not None and existing.agency_id != found.id:
        raise ValueError(f"username: {username!r} already belongs to another agency")
    if existing is None:
        session.add(
            EspCredential(
                agency_id=found.id, username=username, password_hash=hash_password(password)
            )
        )
    else:
        existing.password_hash = hash_password(password)
    with _verified_lock:
        _verified.clear()
    return password


def _cache_key(username: str, password: str) -> str:
    return hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()


def cached_esp_login(username: str, password: str) -> Principal | None:
    """The agency of a login checked before in this process (no database access)."""
    with _verified_lock:
        found = _verified.get(_cache_key(username, password))
    if found is None or time.monotonic() - found[1] > VERIFIED_TTL_S:
        return None
    return found[0]


@dataclass(frozen=True)
class LoginCheck:
    """What a password check found: the principal (``None``: refused) and, for a known
    user name, its agency (for the audit of a lock-out)."""

    principal: Principal | None
    agency_id: int | None = None


# What an unknown user name is checked against, so that it costs the same scrypt as a
# wrong password for a real user: answer times do not reveal which names exist. The hash
# of a random password that was thrown away (written out: computing it would cost scrypt).
_DUMMY_HASH = "scrypt$2oJaqrFH7xnw4xbq7/InPQ==$yc2CEOx2hvE9q+RxqHHL6flmooPyK+uJzKDvq9k92FI="


def check_esp_login(session: Session, username: str, password: str) -> Principal | None:
    """The agency behind a Basic-auth login, or ``None`` if it is wrong."""
    return check_esp_password(session, username, password).principal


def check_esp_password(session: Session, username: str, password: str) -> LoginCheck:
    """:func:`check_esp_login`, telling also the agency of a known user name.

    Always computes one scrypt unless the login is in the cache of checked
    logins: an unknown user name is checked against a dummy hash.
    """
    cache_key = _cache_key(username, password)
    cached = cached_esp_login(username, password)
    if cached is not None:
        return LoginCheck(cached, cached.agency_id)
    row = session.scalar(select(EspCredential).where(EspCredential.username == username))
    matches = _password_matches(password, row.password_hash if row else _DUMMY_HASH)
    if row is None or not matches:
        return LoginCheck(None, row.agency_id if row else None)
    agency = find_agency(session, row.agency_id)
    principal = Principal(agency.id, agency.name, f"esp:{username}", frozenset())
    with _verified_lock:
        if len(_verified) > 10_000:
            _verified.clear()
        _verified[cache_key] = (principal, time.monotonic())
    return LoginCheck(principal, agency.id)


def _key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    session: Session, agency: str, scopes: Iterable[str], label: str | None = None
) -> tuple[int, str]:
    """A new API key for ``agency``; returns (key id, secret). The secret is shown only once."""
    found = find_agency(session, agency)
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in Scope.ALL]
    if unknown or not chosen:
        raise ValueError(
            f"scope: {', '.join(unknown) or '(none)'} not among {', '.join(Scope.ALL)}"
        )
    secret = "vk_" + secrets.token_urlsafe(32)
    row = ApiKey(
        agency_id=found.id, label=label, key_sha256=_key_digest(secret), scopes=" ".join(chosen)
    )
    session.add(row)
    session.flush()
    return row.id, secret


def revoke_api_key(session: Session, key_id: int) -> bool:
    """Revoke a key; returns whether it existed and was active."""
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    """Every key (without secrets), newest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id.desc())).all()


def check_api_key(session: Session, secret: str) -> Principal | None:
    """The agency and scopes of an active key, or ``None``."""
    row = session.scalar(
        select(ApiKey).where(ApiKey.key_sha256 == _key_digest(secret), ApiKey.revoked_at.is_(None))
    )
    if row is None:
        return None
    agency = find_agency(session, row.agency_id)
    return Principal(agency.id, agency.name, f"api-key:{row.id}", frozenset(row.scopes.split()))


def forget_verified_logins() -> None:
    """Drop the in-memory cache of checked ESP logins (after credentials change elsewhere)."""
    with _verified_lock:
        _verified.clear()
