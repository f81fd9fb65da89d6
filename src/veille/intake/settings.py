"""Settings of the intake channels and the web server (environment prefix ``VEILLE_``).

Each field is documented in ``docs/intake.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntakeSettings(BaseSettings):
    """How the intake channels behave; tests build their own instance."""

    model_config = SettingsConfigDict(env_prefix="VEILLE_", env_file=".env", extra="ignore")

    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=1,
        description="Largest file accepted by an upload, checked while it streams in.",
    )
    max_xml_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest ESP XML document accepted."
    )
    max_json_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest REST request body (bulk included)."
    )
    spool_dir: Path | None = Field(
        default=None,
        description="Folder where uploads wait for hashing; default: data_dir/spool.",
    )
    keep_files: bool = Field(
        default=False,
        description="Keep uploaded files after hashing (default: discard them). Reserved for "
        "the encrypted evidence store; leave off.",
    )
    esp_open_ttl_s: int = Field(
        default=24 * 3600, ge=1, description="An unfinished ESP report lives at least this long."
    )
    esp_idle_ttl_s: int = Field(
        default=3600, ge=1, description="…and at least this long after its last change."
    )
    worker_enabled: bool = Field(
        default=True, description="Run the media worker inside the web server process."
    )
    worker_hash_process: bool = Field(
        default=True,
        description="Hash uploaded files in a separate process at the lowest CPU priority, so "
        "that hashing never slows requests (false: in the server's worker thread).",
    )
    worker_poll_s: float = Field(
        default=0.5, gt=0, description="How often the media worker looks for new files."
    )
    worker_quiet_s: float = Field(
        default=0.05,
        ge=0,
        description="The media worker starts a batch only after the server has had no new "
        "request for this long (0: whenever files wait), so that intake comes first at peaks.",
    )
    worker_min_idle_cpu: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="…and only while at least this share of the machine's CPU time was idle "
        "(or spent by processes at a lowered priority) over the last closed window of a second "
        "or more (Linux; 0: ignore the machine's load), so that one server "
        "process does not hash while the others are busy.",
    )
    worker_max_pause_s: float = Field(
        default=5.0,
        gt=0,
        description="…but never waits longer than this between batches, however busy the "
        "server is.",
    )
    worker_busy_match_every_s: float = Field(
        default=60.0,
        gt=0,
        description="While the server is busy, the worker matches the reports that are ready "
        "at most this often (a matching pass refreshes content clusters over the whole "
        "database).",
    )
    form_rate_limit: int = Field(
        default=10,
        ge=1,
        description="Hotline form reports per client address per clock hour, counted across "
        "all server processes.",
    )
    public_owner_agency: str | None = Field(
        default=None,
        description="Agency that owns reports from the form, in-app and SMS channels "
        "(default: the first hotline agency).",
    )

    def resolved_spool_dir(self) -> Path:
        """Where uploads are spooled."""
        if self.spool_dir is not None:
            return self.spool_dir
        from veille.config import get_settings

        return get_settings().data_dir / "spool"
