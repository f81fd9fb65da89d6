"""Small helpers shared by the linking and triage commands (who acts, for which agency)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from veille.output import fail
from veille.store.reports import Viewer

AsOption = Annotated[str | None, typer.Option("--as", help="Agency you act for (name or id).")]
AllOption = Annotated[
    bool, typer.Option("--all-agencies", help="Administrator view of every report (audited).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def agency_viewer(session: Session, as_agency: str | None, all_agencies: bool = False) -> Viewer:
    """The viewer a command acts as; exits with code 2 when no valid agency is named."""
    from veille.store.agencies import AgencyNotFound, find_agency
    from veille.store.audit import current_actor

    if all_agencies:
        return Viewer.administrator(current_actor())
    if as_agency is None:
        fail("say which agency you act for with --as AGENCY", 2)
    try:
        agency = find_agency(session, as_agency or "")
    except AgencyNotFound as error:
        fail(str(error), 2)
        raise
    return Viewer(actor=current_actor(), agency_id=agency.id)


def agency_only(session: Session, as_agency: str | None) -> Viewer:
    """A viewer that must be an agency (queues and alerts belong to one)."""
    return agency_viewer(session, as_agency, False)


def ready() -> Any:
    """The migrated database (imported late: the CLI module imports this package)."""
    from veille.cli import ready_database

    return ready_database()
