"""Options and helpers shared by every capability's commands (who acts, output form)."""

from __future__ import annotations

from typing import Annotated

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
        fail(
            "say which agency you act for with --as AGENCY (or --all-agencies as an administrator)",
            2,
        )
    try:
        agency = find_agency(session, as_agency or "")
    except AgencyNotFound as error:
        fail(str(error), 2)
        raise
    return Viewer(actor=current_actor(), agency_id=agency.id)
