"""``veille incidents``: school incidents recorded, imported, listed, counted and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from veille.casework.cli_takedown import parse_time
from veille.casework.errors import ImportRefused
from veille.casework.incidents import IncidentFilter, Period, Place
from veille.casework.lines import problems_of
from veille.casework.models import IncidentKind
from veille.core.cli_options import JsonOption, ready
from veille.output import console, fail, print_json, print_table

incidents_app = typer.Typer(
    help="School incidents: record, import, count by place and period, export for maps.",
    no_args_is_help=True,
)

CountryOption = Annotated[
    list[str] | None, typer.Option("--country", help="Only this country (repeatable).")
]
RegionOption = Annotated[str | None, typer.Option("--region", help="Only this region.")]
KindOption = Annotated[
    list[IncidentKind] | None, typer.Option("--kind", help="Only this kind (repeatable).")
]
FromOption = Annotated[
    str | None, typer.Option("--from", help="Occurred at or after (YYYY-MM-DD[THH:MM]).")
]
ToOption = Annotated[str | None, typer.Option("--to", help="Occurred before (YYYY-MM-DD[THH:MM]).")]


def _criteria(
    country: list[str] | None,
    region: str | None,
    kind: list[IncidentKind] | None,
    start: str | None,
    end: str | None,
) -> IncidentFilter:
    from veille.geo import CountryError, normalise_country

    try:
        countries = [normalise_country(c) for c in country or []]
    except CountryError as error:
        fail(f"--country: {error}", 2)
    return IncidentFilter(
        countries=countries,
        region=region,
        kinds=kind or [],
        occurred_from=parse_time(start, "--from"),
        occurred_before=parse_time(end, "--to"),
    )


@incidents_app.command("add")
def incidents_add(
    school: Annotated[str, typer.Option("--school", help="The school's name.")],
    country: Annotated[str, typer.Option("--country", help="ISO 3166 country.")],
    kind: Annotated[IncidentKind, typer.Option("--kind", help="What happened.")],
    occurred_at: Annotated[str, typer.Option("--occurred-at", help="When (ISO 8601 with zone).")],
    region: Annotated[str | None, typer.Option("--region", help="Region or province.")] = None,
    locality: Annotated[str | None, typer.Option("--locality", help="Town or city.")] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Platform it happened on.")
    ] = None,
    reported_at: Annotated[
        str | None, typer.Option("--reported-at", help="When it was reported.")
    ] = None,
    latitude: Annotated[float | None, typer.Option("--latitude", help="WGS 84 latitude.")] = None,
    longitude: Annotated[
        float | None, typer.Option("--longitude", help="WGS 84 longitude.")
    ] = None,
    incident_id: Annotated[
        str | None, typer.Option("--incident-id", help="The sender's id for it.")
    ] = None,
) -> None:
    """Record one incident."""
    from veille.casework.incidents import IncidentExists, IncidentIn, record_incident
    from veille.store.audit import current_actor

    try:
        given = {
            "incident_id": incident_id, "school": school, "country": country,
            "region": region, "locality": locality, "kind": kind, "platform": platform,
            "occurred_at": occurred_at, "reported_at": reported_at,
            "latitude": latitude, "longitude": longitude,
        }  # fmt: skip
        incident = IncidentIn.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        fail(
            "; ".join(f"--{p.field.replace('_', '-')}: {p.reason}" for p in problems_of(error, 0)),
            2,
        )
    with ready().session() as session:
        try:
            row = record_incident(session, incident, actor=current_actor())
        except IncidentExists as error:
            fail(str(error), 1)
        console.print(f"incident {row.id} recorded", highlight=False)


@incidents_app.command("import")
def incidents_import(
    file: Annotated[Path, typer.Argument(help="JSON Lines of incidents (school-incidents.jsonl).")],
    as_json: JsonOption = False,
) -> None:
    """Import incidents (all or nothing; a bad line is named with its field)."""
    from veille.casework.incidents import import_incidents
    from veille.store.audit import current_actor

    try:
        summary = import_incidents(ready(), file, actor=current_actor())
    except ImportRefused as error:
        fail(str(error), 1)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(
            f"{summary.imported} imported, {summary.unchanged} unchanged", highlight=False
        )


@incidents_app.command("list")
def incidents_list(
    country: CountryOption = None,
    region: RegionOption = None,
    kind: KindOption = None,
    start: FromOption = None,
    end: ToOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Incidents, oldest first."""
    from veille.casework.incidents import incident_dict, list_incidents

    criteria = _criteria(country, region, kind, start, end)
    with ready().session() as session:
        total, rows = list_incidents(session, criteria, limit=limit, offset=offset)
        shown = [incident_dict(row) for row in rows]
    if as_json:
        print_json({"total": total, "incidents": shown})
        return
    print_table(
        f"school incidents ({len(shown)} of {total})",
        shown,
        ["id", "occurred_at", "country", "region", "school", "kind", "platform"],
    )


@incidents_app.command("count")
def incidents_count(
    by: Annotated[
        Place, typer.Option("--by", help="Group by country or by region.")
    ] = Place.COUNTRY,
    period: Annotated[
        Period, typer.Option("--period", help="Group by ISO week, month or year.")
    ] = Period.MONTH,
    country: CountryOption = None,
    region: RegionOption = None,
    kind: KindOption = None,
    start: FromOption = None,
    end: ToOption = None,
    as_json: JsonOption = False,
) -> None:
    """Incidents counted by place and period."""
    from veille.casework.incidents import count_incidents

    criteria = _criteria(country, region, kind, start, end)
    with ready().session() as session:
        rows = count_incidents(session, criteria, place=by, period=period)
    if as_json:
        print_json(rows)
        return
    columns = ["country", "region", "period", "incidents"] if by is Place.REGION else [
        "country", "period", "incidents",
    ]  # fmt: skip
    print_table("school incidents", rows, columns)


@incidents_app.command("export")
def incidents_export(
    out: Annotated[Path, typer.Argument(help="File to write (.geojson or .csv).")],
    export_format: Annotated[
        str | None,
        typer.Option("--format", help="geojson or csv (default: from the file's extension)."),
    ] = None,
    located_only: Annotated[
        bool, typer.Option("--located-only", help="GeoJSON: only incidents with coordinates.")
    ] = False,
    country: CountryOption = None,
    region: RegionOption = None,
    kind: KindOption = None,
    start: FromOption = None,
    end: ToOption = None,
) -> None:
    """Export incidents as GeoJSON or CSV for mapping."""
    from veille.casework.incidents import incidents_csv, incidents_geojson, list_incidents

    chosen = (export_format or out.suffix.lstrip(".")).lower()
    if chosen == "json":
        chosen = "geojson"
    if chosen not in ("geojson", "csv"):
        fail(f"--format: expected geojson or csv, not {chosen or 'none'!r}", 2)
    criteria = _criteria(country, region, kind, start, end)
    with ready().session() as session:
        _, rows = list_incidents(session, criteria, limit=None)
        text = (
            json.dumps(incidents_geojson(rows, located_only=located_only), ensure_ascii=False)
            if chosen == "geojson"
            else incidents_csv(rows)
        )
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    console.print(f"{len(rows)} incidents written to {out} ({chosen})", highlight=False)
