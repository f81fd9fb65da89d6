"""Small helpers shared by the linking and triage commands (who acts, for which agency)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from veille.cli_options import AllOption, AsOption, JsonOption, agency_viewer
from veille.store.reports import Viewer

__all__ = ["AllOption", "AsOption", "JsonOption", "agency_only", "agency_viewer", "ready"]


def agency_only(session: Session, as_agency: str | None) -> Viewer:
    """A viewer that must be an agency (queues and alerts belong to one)."""
    return agency_viewer(session, as_agency, False)


def ready() -> Any:
    """The migrated database (imported late: the CLI module imports this package)."""
    from veille.cli import ready_database

    return ready_database()
