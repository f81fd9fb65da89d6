"""Settings of accounts (environment variables, prefix ``VEILLE_``): sessions and lock-out."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountSettings(BaseSettings):
    """How long sessions last and when repeated failures lock an account."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", env_file=".env", extra="ignore")

    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A session unused this long ends."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=7 * 24, description="A session ends this long after log-in."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed log-ins in a row that lock the account."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a locked account stays locked."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Send the session cookie over HTTPS only (default: when the request is HTTPS).",
    )


SETTINGS = AccountSettings
