"""Tables of the accounts capability: users, their web sessions, agencies' log-in rules."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from veille.store.models import Base
from veille.store.types import StrEnumType, UTCDateTime, utcnow


class Role(StrEnum):
    """What a user may do in the web application."""

    ANALYST = "analyst"
    """Works the agency's queue: reads reports and cases, assigns, moves, shares."""
    SUPERVISOR = "supervisor"
    """As an analyst, and reads the agency's audit trail."""
    ADMIN = "admin"
    """As a supervisor, and manages the agency's users."""
    AUDITOR = "auditor"
    """Reads everything the agency may see and its audit trail; changes nothing."""


class UserAccount(Base):
    """A person who logs in to the web application for one agency."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    role: Mapped[Role] = mapped_column(StrEnumType(Role))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    """The last time step whose code was accepted: a code is never accepted twice."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_user_account_agency", "agency_id"),)


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of its cookie's token is stored."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The absolute end, whatever the activity."""

    __table_args__ = (
        Index("ix_web_session_user", "user_id"),
        Index("ix_web_session_expires", "expires_at"),
    )


class AgencyLoginRule(Base):
    """An agency's rule for its users' log-in: whether the second factor is required."""

    __tablename__ = "agency_login_rule"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    require_totp: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
