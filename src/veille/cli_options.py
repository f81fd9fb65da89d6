"""Options and helpers shared by every capability's commands (who acts, output form)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from veille.output import fail
from veille.store.reports import Viewer

if TYPE_CHECKING:
    from veille.store.db import Database

T = TypeVar("T")

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
    return Viewer(actor=current_actor(), agency_id=agency.id)


def read_as_viewer(
    database: Database,
    as_agency: str | None,
    all_agencies: bool,
    read: Callable[[Session, Viewer], T],
    not_found: type[Exception],
) -> T:
    """``read(session, viewer)`` as the command's viewer; exits 1 when the object is missing.

    The failure is caught inside the session so that the audit event of a
    refused read is committed before the command exits.
    """
    missing: str | None = None
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            return read(session, viewer)
        except not_found as error:
            missing = str(error)
    assert missing is not None
    fail(missing, 1)
