"""Small helpers shared by the linking and triage commands (who acts, for which agency)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from veille.cli_options import AllOption, AsOption, JsonOption, agency_viewer
from veille.store.reports import Viewer

__all__ = [
    "AllOption",
    "AsOption",
    "JsonOption",
    "agency_name",
    "agency_only",
    "agency_viewer",
    "minute",
    "ready",
    "second",
]


def agency_only(session: Session, as_agency: str | None) -> Viewer:
    """A viewer that must be an agency (queues and alerts belong to one)."""
    return agency_viewer(session, as_agency, False)


def ready() -> Any:
    """The migrated database (imported late: the CLI module imports this package)."""
    from veille.cli import ready_database

    return ready_database()


def agency_name(session: Session, agency_id: int | None) -> str:
    """The name people know an agency by (``administrator`` for no agency)."""
    from veille.store.models import Agency

    if agency_id is None:
        return "administrator"
    agency = session.get(Agency, agency_id)
    return f"agency {agency_id}" if agency is None else agency.name


# Tables show times to the second (or minute) in UTC, in the ISO form that
# ``veille.output.print_table`` keeps whole: microseconds are noise there
# and would take room from the other columns. ``--json`` keeps full times.
def second(value: datetime | None) -> str | None:
    """``2021-06-30T17:00:05Z``, or ``None``."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(value: datetime | None) -> str | None:
    """``2021-06-30T17:00Z``, or ``None`` (due times: seconds say nothing there)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
