"""The ``veille`` command: one Typer app; each capability adds its commands here.

Commands parse their options, call one library function and render its
result; they hold no logic of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from veille import __version__
from veille.cli_errors import VeilleGroup
from veille.core.cli_options import AllOption, AsOption, JsonOption, agency_viewer, read_as_viewer
from veille.core.database import ready_database
from veille.output import (
    console,
    error_console,
    fail,
    print_json,
    print_table,
    step_progress,
)
from veille.store import migrate
from veille.store.db import open_database
from veille.vocab import AgencyKind, OffenceType, PlatformCategory

if TYPE_CHECKING:
    from veille.intake.importer import ImportSummary
    from veille.pipeline import PipelineSummary

app = typer.Typer(
    name="veille",
    help="Veille: intake, hash matching, linking, triage and threat intelligence against "
    "child sexual exploitation. Hash-first: media is never needed.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=VeilleGroup,
)
db_app = typer.Typer(help="Database schema: migrations.", no_args_is_help=True)
import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)
reports_app = typer.Typer(help="Read reports, as an agency.", no_args_is_help=True)
agencies_app = typer.Typer(help="Agencies (tenants): add, list, import.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(reports_app, name="reports")
app.add_typer(agencies_app, name="agencies")


def _version(value: bool) -> None:
    if value:
        console.print(f"veille {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Veille command line."""


@app.command("init")
def init_command() -> None:
    """Create the data folder and the database, and migrate it to the newest schema."""
    from veille.config import get_settings

    get_settings().ensure_data_dir()
    database = open_database()
    revision = migrate.upgrade(database)
    console.print(f"database ready at revision {revision}: {database.engine.url!r}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply the pending migrations (never run them by hand)."""
    database = open_database()
    before = migrate.describe(migrate.current_revisions(database))
    after = migrate.upgrade(database, revision)
    console.print(f"database upgraded from {before} to {after}")


@db_app.command("current")
def db_current() -> None:
    """Say whether the database is at the newest schema, or which migrations are pending."""
    database = open_database()
    current = migrate.describe(migrate.current_revisions(database))
    if migrate.is_up_to_date(database):
        console.print(f"at head: {current} (no migration pending)", highlight=False)
        return
    console.print(
        f"pending: the database is at {current}; the newest schema is "
        f"{migrate.describe(migrate.head_revisions())}; run 'veille db upgrade'",
        highlight=False,
    )


def _parse_day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=error_console,
        transient=False,
    )


@import_app.command("reports")
def import_reports_command(
    file: Annotated[
        Path,
        typer.Argument(help="JSON Lines (.jsonl) or CSV (.csv) file.", exists=True, dir_okay=False),
    ],
    as_agency: Annotated[
        str | None,
        typer.Option("--as", help="Agency that owns lines without an owner_agency field."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Source of lines without one (idempotency key with external_id)."),
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: from the extension).")
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Import the valid lines and write the invalid ones to a rejects file."),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file (default: FILE.rejected.EXT).")
    ] = None,
    match: Annotated[
        bool,
        typer.Option(help="Match the new reports' media and score them after the import."),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Import reports; by default a file with any invalid line is refused whole.

    New reports are then matched against the hash lists and scored (--no-match skips it).
    """
    from veille.intake.importer import ImportRefused, import_reports

    database = ready_database()
    with _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
        try:
            summary = import_reports(
                database,
                file,
                file_format=file_format,
                owner_agency=as_agency,
                source=source,
                skip_invalid=skip_invalid,
                rejects_path=rejects,
                on_progress=lambda n: progress.advance(task, n),
            )
        except ImportRefused as refused:
            summary = refused.summary
        except ValueError as error:
            fail(str(error), 2)
    processed = None
    if summary.written and match and summary.new_report_ids:
        from veille.pipeline import process_new_reports

        with step_progress() as on_step:
            processed = process_new_reports(database, summary.new_report_ids, on_step)
    elif summary.written and summary.new_report_ids:
        from veille.flow import reports_stored

        # Not matched here: the job system links and scores them (veille worker or serve).
        reports_stored(database, summary.new_report_ids)
    result = {
        "imported": summary.imported,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "written": summary.written,
        "rejects_file": str(summary.rejects_path) if summary.rejects_path else None,
        "errors": [str(error) for error in summary.errors],
        "error_count": summary.error_count,
        "unknown_agencies": sorted(summary.unknown_agencies),
        "media_items_matched": processed.media_items_matched if processed else 0,
        "known_matches": processed.known_matches if processed else 0,
        "reports_scored": processed.reports_scored if processed else 0,
    }
    if as_json:
        print_json(result)
    else:
        _print_import_summary(summary, processed)
    if not summary.written:
        raise typer.Exit(1)


SHOWN_LINE_ERRORS = 20


def _print_import_summary(summary: ImportSummary, processed: PipelineSummary | None) -> None:
    for line_error in summary.errors[:SHOWN_LINE_ERRORS]:
        console.print(f"[red]{line_error}[/]", highlight=False)
    if summary.error_count > SHOWN_LINE_ERRORS:
        console.print(f"... and {summary.error_count - SHOWN_LINE_ERRORS:,} more line errors")
    console.print(
        f"imported {summary.imported}, unchanged {summary.unchanged}, "
        f"rejected {summary.rejected}"
        + (
            ""
            if summary.written
            else " — nothing was written (use --skip-invalid to keep the valid lines)"
        )
        + (f"; rejected lines in {summary.rejects_path}" if summary.rejects_path else ""),
        highlight=False,
    )
    if summary.unknown_agencies:
        names = sorted(summary.unknown_agencies)
        shown = ", ".join(repr(name) for name in names[:3]) + (" …" if len(names) > 3 else "")
        error_console.print(
            f"[bold]hint:[/] {summary.unknown_agency_lines:,} line(s) name agencies that do not "
            f"exist ({shown}); import or add the agencies first: "
            "veille agencies import AGENCIES.jsonl (or veille agencies add NAME …)",
            highlight=False,
            soft_wrap=True,
        )
    if processed is not None:
        console.print(
            f"matched {processed.media_items_matched} media items "
            f"({processed.known_matches} known-content matches), "
            f"scored {processed.reports_scored} reports"
        )


@reports_app.command("list")
def reports_list(
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    country: Annotated[
        list[str] | None, typer.Option(help="Derived country (ISO alpha-2); repeatable.")
    ] = None,
    category: Annotated[
        list[PlatformCategory] | None, typer.Option(help="Platform category; repeatable.")
    ] = None,
    offence: Annotated[
        list[OffenceType] | None, typer.Option(help="Offence type; repeatable.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--from", help="Received on or after (YYYY-MM-DD).")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="Received before (YYYY-MM-DD).")] = None,
    agency: Annotated[str | None, typer.Option(help="Owning agency (name or id).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """List the reports you may see, newest first, with filters."""
    from veille.geo import CountryError, normalise_country
    from veille.store.agencies import AgencyNotFound, find_agency
    from veille.store.reports import ReportFilter, ReportList, list_reports, report_summary

    database = ready_database()
    with database.session() as session:
        viewer = agency_viewer(session, as_agency, all_agencies)
        try:
            countries = [normalise_country(c) for c in country or []]
            owner_id = find_agency(session, agency).id if agency else None
        except (CountryError, AgencyNotFound) as error:
            fail(str(error), 2)
        criteria = ReportFilter(
            countries=countries,
            categories=category or [],
            offences=offence or [],
            received_from=_parse_day(since, "--from"),
            received_before=_parse_day(until, "--to"),
            owner_agency_id=owner_id,
        )
        rows, total = list_reports(session, viewer, criteria, limit=limit, offset=offset)
        page = ReportList(total=total, reports=[report_summary(report) for report in rows])
    if as_json:
        # The API's JSON, to the character (times end in Z).
        print(page.model_dump_json(indent=2))
    else:
        shown = [report.model_dump() for report in page.reports]
        print_table(f"{len(shown)} of {total} reports", shown, list(shown[0]) if shown else ["id"])


@reports_app.command("show")
def reports_show(
    report_id: Annotated[int, typer.Argument(help="Report id.")],
    as_agency: AsOption = None,
    all_agencies: AllOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one report and the state of its media (the read is written to the audit log)."""
    from sqlalchemy.orm import Session

    from veille.intake.worker import media_state
    from veille.store.reports import (
        ReportNotFound,
        ReportOut,
        Viewer,
        get_report,
        report_detail,
    )

    def read(session: Session, viewer: Viewer) -> ReportOut:
        report = get_report(session, viewer, report_id)
        return report_detail(report, media_state(session, report.id))

    shown = read_as_viewer(ready_database(), as_agency, all_agencies, read, ReportNotFound)
    if as_json:
        # The API's JSON, to the character (times end in Z).
        print(shown.model_dump_json(indent=2))
        return
    detail = shown.model_dump()
    for key, value in detail.items():
        if key in ("identifiers", "media"):
            continue
        console.print(f"[bold]{key}[/]: {'' if value is None else _text(value)}", highlight=False)
    if detail["identifiers"]:
        print_table("identifiers", detail["identifiers"], ["kind", "value", "platform"])
    if detail["media"]:
        print_table(
            "media", detail["media"], ["file_name", "media_type", "md5", "pdq", "pdq_quality"]
        )


def _text(value: Any) -> str:
    from veille.output import to_json

    if isinstance(value, list):
        return ", ".join(str(getattr(item, "value", item)) for item in value)
    return (
        str(getattr(value, "value", value))
        if not isinstance(value, datetime)
        else to_json(value).strip('"')
    )


@agencies_app.command("add")
def agencies_add(
    name: Annotated[str, typer.Argument(help="Unique agency name.")],
    kind: Annotated[AgencyKind, typer.Option(help="Kind of agency.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 country code.")],
    contact: Annotated[str | None, typer.Option(help="Contact address.")] = None,
) -> None:
    """Add an agency."""
    from veille.geo import CountryError
    from veille.store.agencies import AgencyExists, AgencySpec, add_agency

    database = ready_database()
    try:
        with database.session() as session:
            agency = add_agency(session, AgencySpec(name, kind, country, contact))
            console.print(
                f"agency {agency.id} added: {agency.name} ({agency.kind.value}, {agency.country})"
            )
    except (AgencyExists, CountryError, ValueError) as error:
        fail(f"{error}", 2)


@agencies_app.command("list")
def agencies_list(as_json: JsonOption = False) -> None:
    """List the agencies."""
    from veille.store.agencies import list_agencies

    database = ready_database()
    with database.session() as session:
        rows = [
            {"id": a.id, "name": a.name, "kind": a.kind, "country": a.country, "contact": a.contact}
            for a in list_agencies(session)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(f"{len(rows)} agencies", rows, ["id", "name", "kind", "country", "contact"])


@agencies_app.command("import")
def agencies_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: name, kind, country, contact.", exists=True, dir_okay=False
        ),
    ],
) -> None:
    """Create the agencies of a JSON Lines file that do not exist yet (idempotent)."""
    from veille.store.agencies import ensure_agencies, load_agency_specs

    database = ready_database()
    try:
        specs = load_agency_specs(file)
        with database.session() as session:
            created, unchanged = ensure_agencies(session, specs)
    except ValueError as error:
        fail(str(error), 2)
    console.print(f"agencies: {created} created, {unchanged} already present")


@app.command("demo")
def demo_command(
    folder: Annotated[Path, typer.Option(help="Demo folder (emptied first).")] = Path(
        "veille-demo"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic scenario.")] = 7,
) -> None:
    """Generate a small synthetic scenario, import it and run every capability on it."""
    from veille.demo import run_demo
    from veille.web.app import create_app

    try:
        run_demo(folder, seed=seed, console=console, create_app=create_app)
    except ValueError as error:
        fail(str(error), 2)


def _register_capability_commands() -> None:
    from veille.contract import command_registrars

    for register in command_registrars():
        register(app)


_register_capability_commands()
