"""Settings of the intake channels and the web server (environment prefix ``VEILLE_``).

Each field is documented in ``docs/intake.md``.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _address_list(value: object) -> object:
    """``10.0.0.1, 192.168.0.0/16`` (or a list) → checked addresses and networks."""
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    for item in items:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return [str(item) for item in items if str(item)]


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
        default=20 * 1024 * 1024, ge=1024, description="Largest REST bulk JSON Lines body."
    )
    max_api_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest body of any other REST call (a report, an in-app report, an SMS, "
        "a triage change), refused while it streams in, before the API key is checked.",
    )
    max_form_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest hotline form post, ESP form call (finish, retract) or body sent "
        "to any other path.",
    )
    body_chunk_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A client that sends nothing of its request body for this long is "
        "answered 408 and disconnected.",
    )
    body_total_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="…and one whose body takes longer than this in all.",
    )
    trusted_proxies: Annotated[list[str], NoDecode, BeforeValidator(_address_list)] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed, comma-separated (default: none; the peer's address is the client's).",
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
    esp_max_files_per_report: int = Field(
        default=1000,
        ge=1,
        description="Files one ESP report may have; the next upload is refused with 4100 "
        "(a Veille report holds at most 1,000 media items).",
    )
    esp_login_free_failures: int = Field(
        default=5,
        ge=1,
        description="Failed ESP logins per client address, and per user name, before each "
        "further failure makes the next attempt wait.",
    )
    esp_login_backoff_s: float = Field(
        default=1.0,
        gt=0,
        description="…the first wait; it doubles with each further failure. While it runs, "
        "attempts are answered 429 with Retry-After, without checking the password.",
    )
    esp_login_lockout_failures: int = Field(
        default=10,
        ge=1,
        description="Failed ESP logins per address or user name that lock it out for "
        "esp_login_lockout_s, with an audit event (esp.login_locked).",
    )
    esp_login_lockout_s: int = Field(
        default=900,
        ge=1,
        description="How long a lock-out lasts; failures are also forgotten after this long "
        "without one.",
    )
    esp_login_concurrent_checks: int = Field(
        default=4,
        ge=1,
        description="Password checks (scrypt, about 50 ms of CPU each) one server process runs "
        "at once; further logins wait their turn without holding a worker thread.",
    )
    worker_enabled: bool = Field(
        default=True, description="Run the media worker inside the web server process."
    )
    worker_hash_process: bool = Field(
        default=True,
        description="Hash uploaded files in a separate process at the lowest CPU priority, so "
        "that hashing never slows requests (false: in the server's worker thread).",
    )
    worker_hash_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="How far that process's CPU priority is lowered (19: the lowest, so that "
        "requests come first; 0: hashing shares the CPU equally, for a veille worker whose "
        "backlog must keep up with intake on the same machine).",
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
        default=5.0,
        gt=0,
        description="While the server is busy, the worker matches the reports that are ready "
        "at most this often (many reports per pass).",
    )
    jobs_in_serve: bool = Field(
        default=True,
        description="veille serve runs a job-system consumer in its own process (the flow's "
        "link and score steps, scheduled work); turn off when dedicated `veille worker` "
        "processes run.",
    )
    jobs_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Worker threads of each job-system consumer (in veille serve, and the "
        "default of veille worker --threads).",
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
