"""Users, passwords, the second factor, log-in with lock-out, and server-side sessions.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, rehashed when
they change). Every log-in attempt is an audit event, failed or not; after
``login_max_failures`` failures in a row an account is locked for
``login_lockout_minutes`` (the lock is audited too), and an unknown user name
costs the same hashing time as a known one, so neither the answer nor its
delay tells whether a name exists. The second factor is a TOTP code
(RFC 6238, ``pyotp``); a code is accepted once. A session is a random token
in a cookie; the database keeps only its SHA-256, with an idle and an
absolute expiry.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from veille.accounts.models import AgencyLoginRule, Role, UserAccount, WebSession
from veille.accounts.settings import AccountSettings
from veille.store.audit import record_event
from veille.store.models import Agency, AuditEvent
from veille.store.types import utcnow

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256
"""Longer input is refused before hashing: the hash's cost must not grow with a hostile body."""
TOTP_ISSUER = "Veille"

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message names the field."""


class AccountNotFound(LookupError):
    """No such user."""


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (checked for length first)."""
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long, naming the field."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters")


def new_password() -> str:
    """A random password of 20 characters (a temporary one, to change at first log-in)."""
    return secrets.token_urlsafe(15)


def _audit(
    session: Session, user: UserAccount, action: str, actor: str, detail: str | None = None
) -> None:
    """Record an action on ``user`` in its agency's audit trail."""
    record_event(
        session,
        actor=actor,
        agency_id=user.agency_id,
        action=action,
        object_type="user",
        object_id=user.id,
        detail=detail,
    )


def _user(session: Session, username: str) -> UserAccount:
    user = session.scalar(select(UserAccount).where(UserAccount.username == username.lower()))
    if user is None:
        raise AccountNotFound(f"username: no user {username!r}")
    return user


def add_user(
    session: Session,
    username: str,
    agency_id: int,
    role: Role,
    password: str,
    *,
    actor: str,
    must_change_password: bool = True,
) -> UserAccount:
    """Create a user of ``agency_id``; the name is lower-cased and must be new."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountError(
            "username: 2 to 64 characters, letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit"
        )
    if session.get(Agency, agency_id) is None:
        raise AccountError(f"agency: no agency {agency_id}")
    if session.scalar(select(UserAccount.id).where(UserAccount.username == name)) is not None:
        raise AccountError(f"username: {name!r} is taken")
    user = UserAccount(
        username=name,
        agency_id=agency_id,
        role=Role(role),
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        disabled=False,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="user.add",
        object_type="user",
        object_id=user.id,
        detail=f"{name} ({user.role.value})",
    )
    return user


def list_users(session: Session, agency_id: int | None = None) -> list[tuple[UserAccount, str]]:
    """Users (of one agency, or all) with their agency's name, by agency then name."""
    statement = (
        select(UserAccount, Agency.name)
        .join(Agency, Agency.id == UserAccount.agency_id)
        .order_by(Agency.name, UserAccount.username)
    )
    if agency_id is not None:
        statement = statement.where(UserAccount.agency_id == agency_id)
    return [(user, agency) for user, agency in session.execute(statement)]


def set_disabled(session: Session, username: str, disabled: bool, *, actor: str) -> UserAccount:
    """Disable (ending its sessions) or enable a user."""
    user = _user(session, username)
    user.disabled = disabled
    if disabled:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    _audit(session, user, "user.disable" if disabled else "user.enable", actor, user.username)
    return user


def reset_password(session: Session, username: str, *, actor: str) -> str:
    """Give a user a new temporary password (returned), unlock it and end its sessions."""
    user = _user(session, username)
    password = new_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    _audit(session, user, "user.reset", actor, user.username)
    return password


def change_password(session: Session, user: UserAccount, current: str, new: str) -> None:
    """A user's own change: the current password is checked, the new one must differ."""
    if not _verify(user.password_hash, current):
        raise AccountError("current_password: does not match")
    if new == current:
        raise AccountError("new_password: must differ from the current one")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    _audit(session, user, "user.password", user.username)


def enrol_totp(session: Session, username: str, *, actor: str) -> tuple[str, str]:
    """Give a user a new TOTP secret; returns it and its ``otpauth://`` URI for an app."""
    user = _user(session, username)
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_last_step = None
    _audit(session, user, "user.totp", actor, f"{user.username}: second factor enrolled")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return secret, uri


def remove_totp(session: Session, username: str, *, actor: str) -> None:
    """Remove a user's second factor."""
    user = _user(session, username)
    user.totp_secret = None
    user.totp_last_step = None
    _audit(session, user, "user.totp", actor, f"{user.username}: second factor removed")


def set_totp_required(session: Session, agency_id: int, required: bool, *, actor: str) -> None:
    """Whether the users of an agency must give a TOTP code at log-in."""
    rule = session.get(AgencyLoginRule, agency_id)
    if rule is None:
        session.add(AgencyLoginRule(agency_id=agency_id, require_totp=required))
    else:
        rule.require_totp = required
        rule.updated_at = utcnow()
    record_event(
        session,
        actor=actor,
        agency_id=agency_id,
        action="agency.login_rule",
        object_type="agency",
        object_id=agency_id,
        detail=f"second factor {'required' if required else 'optional'}",
    )


def totp_required(session: Session, agency_id: int) -> bool:
    """Whether the agency requires a second factor."""
    rule = session.get(AgencyLoginRule, agency_id)
    return bool(rule is not None and rule.require_totp)


def _verify(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _totp_step(user: UserAccount, code: str, now: datetime) -> int | None:
    """The time step ``code`` is valid for (± one step), unless already used."""
    if user.totp_secret is None or not re.fullmatch(r"\d{6}", code or ""):
        return None
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return None
            return step
    return None


class LoginOutcome(StrEnum):
    """How a log-in attempt ended."""

    OK = "ok"
    BAD = "bad"
    """Wrong name, password or code: one answer for all three."""
    LOCKED = "locked"
    SECOND_FACTOR_NEEDED = "second_factor_needed"
    """The agency requires a second factor and the user has none: an administrator enrols it."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome and, when it is ``ok``, the user."""

    outcome: LoginOutcome
    user: UserAccount | None = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    totp_code: str | None,
    *,
    settings: AccountSettings | None = None,
    now: datetime | None = None,
) -> LoginResult:
    """Check a log-in; every attempt is audited and failures count toward the lock-out."""
    settings = settings or AccountSettings()
    now = now or utcnow()
    name = (username or "").strip().lower()[:64]
    user = session.scalar(select(UserAccount).where(UserAccount.username == name))
    if user is None:
        _verify(_DUMMY_HASH, password)  # the same cost as a known name
        _audit_login(session, None, name, False, "unknown user")
        return LoginResult(LoginOutcome.BAD)
    if user.locked_until is not None and user.locked_until > now:
        _audit_login(session, user, name, False, "locked")
        return LoginResult(LoginOutcome.LOCKED)
    password_ok = _verify(user.password_hash, password)
    step = None
    if password_ok and user.totp_secret is not None:
        step = _totp_step(user, totp_code or "", now)
    factor_ok = user.totp_secret is None or step is not None
    if user.disabled or not password_ok or not factor_ok:
        user.failed_logins += 1
        reason = "disabled" if user.disabled else "wrong password" if not password_ok else "code"
        _audit_login(session, user, name, False, reason)
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            record_event(
                session,
                actor=name,
                agency_id=user.agency_id,
                action="user.locked",
                object_type="user",
                object_id=user.id,
                detail=f"{settings.login_max_failures} failed log-ins: locked until "
                f"{user.locked_until.isoformat(timespec='minutes')}",
                success=False,
            )
        return LoginResult(LoginOutcome.BAD)
    if user.totp_secret is None and totp_required(session, user.agency_id):
        _audit_login(session, user, name, False, "second factor required, none enrolled")
        return LoginResult(LoginOutcome.SECOND_FACTOR_NEEDED)
    if step is not None:
        user.totp_last_step = step
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    _audit_login(session, user, name, True, None)
    return LoginResult(LoginOutcome.OK, user)


def _audit_login(
    session: Session, user: UserAccount | None, name: str, success: bool, why: str | None
) -> None:
    record_event(
        session,
        actor=name or "(empty)",
        agency_id=None if user is None else user.agency_id,
        action="user.login",
        object_type="user",
        object_id=None if user is None else user.id,
        detail=why,
        success=success,
    )


# -- sessions --------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(
    session: Session,
    user: UserAccount,
    *,
    settings: AccountSettings | None = None,
    now: datetime | None = None,
) -> tuple[str, WebSession]:
    """A new session for ``user``; returns the cookie's token (stored only as a hash)."""
    settings = settings or AccountSettings()
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_session(
    session: Session,
    token: str | None,
    *,
    settings: AccountSettings | None = None,
    now: datetime | None = None,
) -> tuple[WebSession, UserAccount] | None:
    """The live session of a cookie's token and its user; an expired one is deleted."""
    if not token or len(token) > 100:
        return None
    settings = settings or AccountSettings()
    now = now or utcnow()
    found = session.execute(
        select(WebSession, UserAccount)
        .join(UserAccount, UserAccount.id == WebSession.user_id)
        .where(WebSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        return None
    web_session, user = found
    idle_end = web_session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if user.disabled or now >= web_session.expires_at or now >= idle_end:
        session.delete(web_session)
        return None
    # Written at most once a minute: a page with many requests is one update.
    if now - web_session.last_seen_at >= timedelta(minutes=1):
        web_session.last_seen_at = now
    return web_session, user


def close_session(session: Session, token: str | None) -> None:
    """End the session of a cookie's token (log-out)."""
    if token and len(token) <= 100:
        session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def purge_sessions(session: Session, *, settings: AccountSettings | None = None) -> int:
    """Delete every session past its absolute or idle expiry; returns how many."""
    settings = settings or AccountSettings()
    now = utcnow()
    idle_cut = now - timedelta(minutes=settings.session_idle_minutes)
    result = session.execute(
        delete(WebSession).where(
            (WebSession.expires_at <= now) | (WebSession.last_seen_at <= idle_cut)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- the audit trail -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to show; empty fields do not filter."""

    agency_id: int | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    refused_only: bool = False
    limit: int = 200


def audit_events(session: Session, criteria: AuditFilter) -> list[AuditEvent]:
    """Audit events matching ``criteria``, newest first."""
    statement = select(AuditEvent)
    if criteria.agency_id is not None:
        statement = statement.where(AuditEvent.agency_id == criteria.agency_id)
    if criteria.action:
        statement = statement.where(AuditEvent.action == criteria.action)
    if criteria.actor:
        statement = statement.where(AuditEvent.actor == criteria.actor)
    if criteria.since is not None:
        statement = statement.where(AuditEvent.at >= criteria.since)
    if criteria.refused_only:
        statement = statement.where(AuditEvent.success.is_(False))
    return list(session.scalars(statement.order_by(AuditEvent.id.desc()).limit(criteria.limit)))


def audit_actions(session: Session, agency_id: int | None) -> list[str]:
    """The actions recorded (for one agency, or all), in order, for a filter's choices."""
    statement = select(AuditEvent.action).group_by(AuditEvent.action).order_by(AuditEvent.action)
    if agency_id is not None:
        statement = statement.where(AuditEvent.agency_id == agency_id)
    return list(session.scalars(statement))
