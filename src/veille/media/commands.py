"""CLI commands of the media capability: ``hash``, ``match`` and ``lists ...``.

Each command parses its options, calls one library function and renders the
result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from veille.output import console, fail, print_json, print_table, step_progress

if TYPE_CHECKING:
    from veille.store.db import Database

lists_app = typer.Typer(
    help="Hash lists (banks) of known content: import, list, export, remove.",
    no_args_is_help=True,
)
FORMAT_HELP = "csv, vics (Project VIC VICS JSON) or te (ThreatExchange 'signal_type hash' lines)."


def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    output_format: Annotated[
        str, typer.Option("--format", help="Output format: jsonl or csv.")
    ] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
    workers: Annotated[int, typer.Option(min=0, help="Worker processes (0: one per core).")] = 0,
    dihedral: Annotated[
        bool, typer.Option(help="Also compute the 8 rotation/flip PDQ hashes.")
    ] = False,
    quality_floor: Annotated[
        int | None,
        typer.Option(
            min=0, max=100, help="PDQ quality floor (default: VEILLE_PDQ_QUALITY_FLOOR, 50)."
        ),
    ] = None,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse images above this many pixels (decompression bombs).")
    ] = 178_956_970,
) -> None:
    """Hash files: MD5, SHA-1, SHA-256; PDQ and quality for images; vPDQ for videos."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from veille.media.hashing import HashOptions
    from veille.media.hashrun import hash_paths, iter_files, write_hashes
    from veille.media.settings import MediaSettings

    if output_format not in ("jsonl", "csv"):
        fail(f"--format: {output_format!r} is not supported (expected jsonl or csv)", 2)
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}", 2)
    files = list(iter_files(paths))
    floor = quality_floor if quality_floor is not None else MediaSettings().pdq_quality_floor
    options = HashOptions(dihedral=dihedral, max_pixels=max_pixels, quality_floor=floor)
    progress = Progress(
        TextColumn("[bold]hashing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console if output is not None else _stderr_console(), transient=output is None,
    )  # fmt: skip
    with progress:
        task = progress.add_task("hash", total=len(files))
        results = hash_paths(
            files, options, workers or None, on_done=lambda _r: progress.advance(task)
        )
        if output is None:
            errors = write_hashes(results, sys.stdout, output_format)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                errors = write_hashes(results, stream, output_format)
    _stderr_console().print(f"{len(files)} files hashed, {errors} with errors")


def _stderr_console() -> Console:
    from veille.output import error_console

    return error_console


def match_command(
    queries: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files, or hashes (md5:<hex>, sha1:<hex>, sha256:<hex>, pdq:<hex>, bare hex)."
        ),
    ] = None,
    all_reports: Annotated[
        bool, typer.Option("--all", help="Re-match the media of every stored report.")
    ] = False,
    report: Annotated[
        list[int] | None, typer.Option("--report", help="Match this stored report; repeatable.")
    ] = None,
    rebuild_index: Annotated[
        bool, typer.Option(help="Rebuild the persisted PDQ index from the database first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Match files or hashes against the hash lists, or re-match stored reports."""
    from veille.core.database import ready_database
    from veille.media.index import build_known_index, save_known_index
    from veille.media.lists import ListFormatError
    from veille.media.matching import _index_folder, match_query, match_reports
    from veille.media.signals import SignalError

    if not queries and not all_reports and not report:
        fail("give files or hashes to match, --report ID, or --all", 2)
    for query in queries or []:
        _check_query(query)
    database = ready_database()
    if report and not all_reports:
        missing = _missing_reports(database, report)
        if missing:
            fail(f"--report: no report with id {', '.join(map(str, missing))}", 1)
    if rebuild_index:
        with database.session() as session:
            index = build_known_index(session)
            save_known_index(index, _index_folder(None))
        _stderr_console().print(f"PDQ index rebuilt: {len(index)} hashes")
    if all_reports or report:
        with step_progress() as on_step:
            summary = match_reports(database, None if all_reports else report, on_progress=on_step)
        record = {
            "media_items": summary.media_items,
            "known_matches": summary.known_matches,
            "media_pairs": summary.media_pairs,
            "clusters": summary.clusters.clusters,
            "known": summary.clusters.known,
            "new_version": summary.clusters.new_version,
            "new": summary.clusters.new,
            "viral_clusters": summary.clusters.viral_clusters,
        }
        if as_json:
            print_json(record)
        else:
            print_table("report matching", [record], list(record))
        if all_reports:
            _rescore_reports_with_media(database)
        else:
            from veille.flow import evidence_changed

            evidence_changed(database, {*(report or []), *summary.changed_reports}, "match")
    if not queries:
        return
    rows: list[dict[str, object]] = []
    with database.session() as session:
        for query in queries:
            try:
                found = match_query(session, query)
            except (SignalError, ListFormatError) as error:
                fail(str(error), 2)
            rows.extend(
                {
                    "query": r.query, "list": r.list_name, "item": r.item_id,
                    "category": r.category, "series": r.series, "signal": r.signal_type,
                    "distance": r.distance_bits, "victim_identified": r.victim_identified,
                }
                for r in found
            )  # fmt: skip
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"{len(rows)} matches",
            rows,
            ["query", "list", "item", "category", "series", "signal", "distance"],
        )
    if not rows:
        raise typer.Exit(1)


@lists_app.command("import")
def lists_import(
    file: Annotated[Path, typer.Argument(help="The list file.", exists=True, dir_okay=False)],
    list_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)],
    name: Annotated[
        str | None, typer.Option(help="List name (default: the file name without suffix).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Who supplied the list.")] = None,
    licence: Annotated[str | None, typer.Option(help="Terms of use of the list.")] = None,
    marking: Annotated[str, typer.Option(help="TLP marking (clear, green, amber, ...).")] = "amber",
    category_scheme: Annotated[
        str | None, typer.Option(help="Category scheme the list uses (e.g. vics).")
    ] = None,
    threshold: Annotated[
        int, typer.Option(min=0, max=47, help="PDQ match threshold in bits for this list.")
    ] = 31,
    no_match: Annotated[
        bool, typer.Option("--no-match", help="Do not re-match stored reports afterwards.")
    ] = False,
) -> None:
    """Import (or re-import, idempotently) a hash list; nothing is written from a bad file."""
    from veille.core.database import ready_database
    from veille.media.listformats import ListFormatError, parse_list
    from veille.media.lists import ListMetadata, import_list
    from veille.media.matching import match_reports

    database = ready_database()
    list_name = name or file.stem
    try:
        entries = parse_list(file.read_text(encoding="utf-8-sig"), list_format)
        meta = ListMetadata(source, licence, marking, category_scheme, threshold)
        with database.session() as session:
            summary = import_list(session, list_name, entries, list_format, meta)
    except (ListFormatError, UnicodeDecodeError) as error:
        fail(f"{file}: {error}", 2)
    console.print(
        f"list {list_name!r}: {summary.created} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.removed} removed"
    )
    if not no_match and (summary.created or summary.updated or summary.removed):
        with step_progress() as on_step:
            result = match_reports(database, on_progress=on_step)
        console.print(
            f"re-matched {result.media_items} media items: {result.clusters.known} known, "
            f"{result.clusters.new_version} new versions, {result.clusters.new} new"
        )
        _rescore_reports_with_media(database)


@lists_app.command("list")
def lists_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the hash lists with their provenance and item counts."""
    from veille.core.database import ready_database
    from veille.media.lists import list_lists

    with ready_database().session() as session:
        rows = list_lists(session)
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"{len(rows)} hash lists",
            rows,
            [
                "name",
                "items",
                "removed",
                "source",
                "marking",
                "format",
                "threshold_bits",
                "updated_at",
            ],
        )


@lists_app.command("export")
def lists_export(
    name: Annotated[str, typer.Argument(help="List name.")],
    list_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Export a list, removals included (marked removed), for partners."""
    from veille.core.database import ready_database
    from veille.media.listformats import ListFormatError, write_list
    from veille.media.lists import HashListNotFound, export_entries

    try:
        with ready_database().session() as session:
            text = write_list(export_entries(session, name), list_format, name)
    except HashListNotFound as error:
        fail(str(error), 1)
    except ListFormatError as error:
        fail(str(error), 2)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"list {name!r} written to {output}")


@lists_app.command("remove")
def lists_remove(
    name: Annotated[str, typer.Argument(help="List name.")],
    hashes: Annotated[
        list[str] | None, typer.Argument(help="Hashes to remove (md5:<hex>, pdq:<hex>, bare hex).")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="A list file (see --format) whose items are removed.", exists=True
        ),
    ] = None,
    list_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "te",
    no_match: Annotated[
        bool, typer.Option("--no-match", help="Do not re-match stored reports afterwards.")
    ] = False,
) -> None:
    """Tombstone items of a list (they stay in exports, marked removed)."""
    from veille.core.database import ready_database
    from veille.media.listformats import HASH_FIELDS, ListFormatError, parse_list
    from veille.media.lists import HashListNotFound, remove_items
    from veille.media.matching import match_reports

    values = list(hashes or [])
    database = ready_database()
    try:
        if from_file is not None:
            for entry in parse_list(from_file.read_text(encoding="utf-8-sig"), list_format):
                values.extend(
                    f"{field}:{getattr(entry, field)}"
                    for field in HASH_FIELDS
                    if getattr(entry, field)
                )
        if not values:
            fail("give hashes to remove, or --file", 2)
        with database.session() as session:
            count = remove_items(session, name, values)
    except HashListNotFound as error:
        fail(str(error), 1)
    except ListFormatError as error:
        fail(str(error), 2)
    console.print(f"list {name!r}: {count} items removed (tombstoned)")
    if count and not no_match:
        with step_progress() as on_step:
            match_reports(database, on_progress=on_step)
        _rescore_reports_with_media(database)


def _rescore_reports_with_media(database: Database) -> None:
    """After a re-match of every report: queue their re-scoring (the flow's re-score step)."""
    from sqlalchemy import select

    from veille.flow import evidence_changed
    from veille.store.models import MediaItem

    with database.session() as session:
        ids = list(session.scalars(select(MediaItem.report_id).distinct()))
    evidence_changed(database, ids, "match")
    _stderr_console().print(f"{len(ids)} reports with media queued for re-scoring")


def _check_query(query: str) -> None:
    """Refuse, in words that fit, a query that is neither a file nor a hash."""
    from veille.media.lists import parse_hash_argument
    from veille.media.signals import SignalError

    path = Path(query)
    if path.is_file():
        return
    if path.is_dir():
        fail(f"{query}: is a folder; give files (or run 'veille hash' on the folder)", 2)
    try:
        parse_hash_argument(query)
    except SignalError as error:
        if path.suffix or "/" in query or "\\" in query:
            fail(f"{query}: no such file (and not a hash)", 2)
        if ":" in query or " " in query.strip():
            fail(str(error), 2)
        fail(f"{query}: neither a file nor a hash ({error})", 2)


def _missing_reports(database: Database, report_ids: list[int]) -> list[int]:
    from sqlalchemy import select

    from veille.store.models import Report

    wanted = sorted(set(report_ids))
    with database.session() as session:
        found = set(session.scalars(select(Report.id).where(Report.id.in_(wanted))))
    return [report_id for report_id in wanted if report_id not in found]


def register(app: typer.Typer) -> None:
    """Add ``hash``, ``match`` and ``lists`` to the ``veille`` command."""
    app.command("hash")(hash_command)
    app.command("match")(match_command)
    app.add_typer(lists_app, name="lists")
