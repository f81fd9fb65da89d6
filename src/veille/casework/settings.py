"""Settings of casework (environment variables, prefix ``VEILLE_``): mail and follow-up times."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CaseworkSettings(BaseSettings):
    """How take-down notices are sent and followed up."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", env_file=".env", extra="ignore")

    smtp_host: str = Field(default="localhost", description="SMTP server that sends notices.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port.")
    smtp_user: str | None = Field(default=None, description="Log-in name, when it needs one.")
    smtp_password: str | None = Field(default=None, description="Password for that log-in.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="Connection timeout.")
    takedown_from: str = Field(
        default="takedown@veille.example.org", description="Sender address of notices."
    )
    takedown_webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a provider's webhook may take to answer."
    )
    takedown_renotify_hours: float = Field(
        default=24.0, gt=0, description="A notice not removed is sent again after this long."
    )
    takedown_escalate_hours: float = Field(
        default=72.0,
        gt=0,
        description="A notice not removed this long after it was first sent is escalated.",
    )


SETTINGS = CaseworkSettings
