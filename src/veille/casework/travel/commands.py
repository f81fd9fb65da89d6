"""``veille travel``: the watch list, travel notices, matching, alerts and their review."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from veille.casework.travel.models import AlertState
from veille.core.cli_options import (
    AllOption,
    AsOption,
    JsonOption,
    agency_viewer,
    minute,
    ready,
    second,
)
from veille.output import console, counting_progress, fail, print_json, print_table
from veille.persons import DEFAULT_THRESHOLD
from veille.store.audit import current_actor

travel_app = typer.Typer(
    help="Travel watch: the watch list, travel notices, matching and alerts.", no_args_is_help=True
)
watch_app = typer.Typer(help="The watch list of known offenders.", no_args_is_help=True)
notices_app = typer.Typer(help="Travel notices.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts and their review.", no_args_is_help=True)
travel_app.add_typer(watch_app, name="watch")
travel_app.add_typer(notices_app, name="notices")
travel_app.add_typer(alerts_app, name="alerts")

FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="jsonl or csv (default: from the extension)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The day that decides which entries have expired (YYYY-MM-DD); default today. "
        "For replaying past notices, e.g. the synthetic scenario.",
    ),
]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: {value!r} is not a date (expected YYYY-MM-DD)", 2)


def _format(path: Path, given: str | None) -> str:
    from veille.casework.travel.lines import file_format

    if not path.is_file():
        fail(f"FILE: {path} is not a file", 2)
    try:
        return file_format(path, given)
    except ValueError as error:
        fail(str(error), 2)


@watch_app.command("import")
def watch_import(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="JSON Lines or CSV file.")],
    as_agency: AsOption = None,
    fmt: FormatOption = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import watch-list entries (all or nothing; a known watch_id is updated)."""
    from veille.casework.travel.lines import LinesRefused
    from veille.casework.travel.watchlist import import_watch_list

    database = ready()
    fmt = _format(path, fmt)
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, as_agency is None)
    try:
        summary = import_watch_list(database, path, viewer, fmt=fmt, as_of=_day(as_of))
    except LinesRefused as error:
        fail(f"{path.name}: nothing imported: {error}", 1)
    if as_json:
        print_json(asdict(summary))
        return
    console.print(
        f"watch list: {summary.imported} imported, {summary.updated} updated, "
        f"{summary.unchanged} unchanged ({summary.expired} already expired: they match nothing "
        "and the next purge deletes them)",
        highlight=False,
    )


@watch_app.command("list")
def watch_list(
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Also show expired entries not purged yet.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The watch list (live entries), by watch id."""
    from veille.casework.travel.watchlist import list_entries

    with ready().session() as session:
        entries = list_entries(session, include_expired=include_expired)
        rows = [
            {
                "watch_id": e.watch_id,
                "name": f"{e.given_name} {e.family_name}",
                "transliterations": len(e.transliterations or ()),
                "date_of_birth": e.date_of_birth.isoformat() if e.date_of_birth else None,
                "nationality": e.nationality,
                "documents": len(e.documents or ()),
                "valid_until": e.valid_until.isoformat(),
                "legal_basis": e.legal_basis,
            }
            for e in entries
        ]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"watch list ({len(rows)} entries)",
        rows,
        ["watch_id", "name", "date_of_birth", "nationality", "valid_until", "legal_basis"],
    )


@watch_app.command("purge")
def watch_purge(as_of: AsOfOption = None, as_json: JsonOption = False) -> None:
    """Delete expired entries now (the job system also does it every hour), with an audit event each."""
    from veille.casework.travel.watchlist import purge_expired

    purged = purge_expired(ready(), current_actor(), _day(as_of))
    if as_json:
        print_json({"purged": purged})
        return
    console.print(f"{len(purged)} expired watch-list entries purged", highlight=False)


@notices_app.command("import")
def notices_import(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="JSON Lines or CSV file.")],
    as_agency: AsOption = None,
    fmt: FormatOption = None,
    source: Annotated[
        str | None, typer.Option(help="Where the notices come from (default import:FILE).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import travel notices (all or nothing; a notice_id already stored unchanged is skipped)."""
    from veille.casework.travel.lines import LinesRefused
    from veille.casework.travel.notices import import_notices

    database = ready()
    fmt = _format(path, fmt)
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, as_agency is None)
    try:
        summary = import_notices(database, path, viewer, fmt=fmt, source=source)
    except LinesRefused as error:
        fail(f"{path.name}: nothing imported: {error}", 1)
    if as_json:
        print_json(asdict(summary))
        return
    console.print(
        f"travel notices: {summary.imported} imported, {summary.unchanged} unchanged",
        highlight=False,
    )


@travel_app.command("match")
def travel_match(
    rematch: Annotated[
        bool, typer.Option("--all", help="Match every notice again (after the watch list grew).")
    ] = False,
    threshold: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Score from which a match becomes an alert."),
    ] = DEFAULT_THRESHOLD,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Match travel notices not matched yet against the live watch list; raise alerts."""
    from veille.casework.travel.notices import match_notices

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, None, True)
    with counting_progress("matching travel notices") as on_progress:
        summary = match_notices(
            database,
            viewer,
            rematch=rematch,
            threshold=threshold,
            as_of=_day(as_of),
            on_progress=on_progress,
        )
    if as_json:
        print_json(asdict(summary))
        return
    console.print(
        f"{summary.notices} notices matched against {summary.watch_entries} live entries: "
        f"{summary.alerts} alerts",
        highlight=False,
    )


@alerts_app.command("list")
def alerts_list(
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    state: Annotated[AlertState | None, typer.Option(help="Only alerts in this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Travel alerts addressed to your agency: open ones first, by score."""
    from veille.casework.travel.alerts import list_alerts

    with ready().session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        alerts = list_alerts(session, viewer, state=state, limit=limit)
    if as_json:
        print_json([asdict(a) for a in alerts])
        return
    print_table(
        f"travel alerts ({len(alerts)})",
        [
            {
                **asdict(a),
                "departure": minute(a.departure_at),
                "route": f"{a.departure_country}→{a.destination_country}",
                "matched": " ".join(
                    _SHORT.get(name, name)
                    for name, value in a.matched_fields.items()
                    if value >= MATCHED
                ),
                "reviewed": f"{a.reviewed_by} {second(a.reviewed_at)}" if a.reviewed_by else "",
            }
            for a in alerts
        ],
        [
            "id",
            "state",
            "score",
            "watch_id",
            "notice_id",
            "traveller",
            "route",
            "departure",
            "matched",
            "reviewed",
        ],
    )


# Field names as the table shows them (the JSON keeps the full names and values).
_SHORT = {
    "family_name": "family",
    "given_name": "given",
    "date_of_birth": "born",
    "nationality": "nat",
    "document": "doc",
}
MATCHED = 0.85


def _review(
    alert_id: int,
    decision: AlertState,
    as_agency: str | None,
    all_agencies: bool,
    note: str | None,
    as_json: bool,
) -> None:
    from veille.casework.travel.alerts import AlertNotFound, review_alert

    database = ready()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
    try:
        view = review_alert(database, viewer, alert_id, decision, note)
    except AlertNotFound as error:
        fail(str(error), 1)
    if as_json:
        print_json(asdict(view))
        return
    console.print(
        f"alert {view.id} {view.state} by {view.reviewed_by} at {second(view.reviewed_at)}",
        highlight=False,
    )


AlertId = Annotated[int, typer.Argument(metavar="ALERT_ID", min=1, help="The alert's id.")]
NoteOption = Annotated[
    str | None, typer.Option(help="Why (kept with the review and in the audit log).")
]


@alerts_app.command("confirm")
def alerts_confirm(
    alert_id: AlertId,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    note: NoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Confirm an alert: the traveller is the watch-listed person."""
    _review(alert_id, AlertState.CONFIRMED, as_agency, all_agencies, note, as_json)


@alerts_app.command("dismiss")
def alerts_dismiss(
    alert_id: AlertId,
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    note: NoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dismiss an alert: the traveller is someone else."""
    _review(alert_id, AlertState.DISMISSED, as_agency, all_agencies, note, as_json)


def register(app: typer.Typer) -> None:
    """Add ``veille travel`` to the CLI."""
    app.add_typer(travel_app, name="travel")
