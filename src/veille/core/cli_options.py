"""Options and helpers shared by every capability's commands (who acts, output form, times)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from veille.core.database import ready_database
from veille.output import fail
from veille.store.db import Database
from veille.store.reports import Viewer

T = TypeVar("T")

AsOption = Annotated[str | None, typer.Option("--as", help="Agency you act for (name or id).")]
AllOption = Annotated[
    bool, typer.Option("--all-agencies", help="Administrator view of every report (audited).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


_LIST_TYPE = re.compile(r"<list\[(.+)\]>(\.\.\.)?")


def tidy_help_types(command: Any) -> None:
    """Show value types in help the way a person reads them, in ``command`` and below.

    Typer's help prints a flag's type as ``<bool>`` (a flag takes no value)
    and a repeatable option or argument as ``<list[Path]>``. A flag gets no
    type here, an option that may be repeated the type of one value, and an
    argument that takes several values that type followed by ``...``.
    """
    context = typer.Context(command)
    help_option = command.get_help_option(context)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        shown = param.display_type_rich(ctx=context) if param.metavar is None else None
        found = _LIST_TYPE.fullmatch(shown or "")
        if found is None:
            continue
        label = "<" + (found.group(1).lower() if found.group(1) == "Path" else found.group(1)) + ">"
        if param.param_type_name == "argument":
            # An argument's metavar would also replace its name in help, so
            # only the type shown for this one parameter is changed.
            param.display_type_rich = lambda ctx, label=label + "...": label
        else:
            param.metavar = label
    for sub in getattr(command, "commands", {}).values():
        tidy_help_types(sub)


def parse_day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option as a date (``None`` stays ``None``); exits 2 naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", 2)


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


def agency_only(session: Session, as_agency: str | None) -> Viewer:
    """A viewer that must be an agency (queues and alerts belong to one)."""
    return agency_viewer(session, as_agency, False)


def ready() -> Database:
    """The migrated database (:func:`veille.core.database.ready_database`)."""
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
