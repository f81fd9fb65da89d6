"""``veille assess``: write the threat assessment for a period, in French or English, HTML or PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veille.core.cli_options import parse_day, ready
from veille.output import console, fail


def assess(
    start: Annotated[str, typer.Option("--from", help="First day assessed (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day assessed (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", help="File to write (.html or .pdf).")],
    baseline_from: Annotated[
        str | None,
        typer.Option(
            "--baseline-from", help="Baseline's first day (default: a year before --from)."
        ),
    ] = None,
    baseline_to: Annotated[
        str | None,
        typer.Option("--baseline-to", help="Baseline's last day (default: the day before --from)."),
    ] = None,
    restrictions_from: Annotated[
        str | None, typer.Option("--restrictions-from", help="First day of the restrictions.")
    ] = None,
    restrictions_to: Annotated[
        str | None, typer.Option("--restrictions-to", help="Last day of the restrictions.")
    ] = None,
    countries: Annotated[
        list[str] | None, typer.Option("--countries", help="Only these countries (repeatable).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language: fr or en.")] = "en",
    output_format: Annotated[
        str | None, typer.Option("--format", help="html or pdf (default: from --out).")
    ] = None,
    notes: Annotated[
        Path | None, typer.Option("--notes", help="Analysts' notes: YAML, one text per section.")
    ] = None,
    marking: Annotated[
        str | None,
        typer.Option("--marking", help="Lower the report's marking explicitly (recorded in it)."),
    ] = None,
) -> None:
    """Write the threat assessment: every number computed from the data, trends stated only when
    significant, analysts' notes beside them, the strictest marking on every page."""
    from veille.assessment.compute import AssessmentError, AssessmentOptions, compute_assessment
    from veille.assessment.render import NotesError, load_notes, render_html, render_pdf
    from veille.geo import CountryError, normalise_country
    from veille.store.audit import current_actor, record_event

    kind = output_format or out.suffix.lstrip(".").lower()
    if kind not in ("html", "pdf"):
        fail("--format: html or pdf (or an --out ending in .html or .pdf)", 2)
    try:
        chosen = tuple(normalise_country(c) for c in countries or [])
    except CountryError as error:
        fail(f"--countries: {error}", 2)
    low, high = parse_day(start, "--from"), parse_day(end, "--to")
    assert low is not None and high is not None
    base = (parse_day(baseline_from, "--baseline-from"), parse_day(baseline_to, "--baseline-to"))
    rest = (
        parse_day(restrictions_from, "--restrictions-from"),
        parse_day(restrictions_to, "--restrictions-to"),
    )
    if (base[0] is None) != (base[1] is None):
        fail("--baseline-from and --baseline-to: give both or neither", 2)
    if (rest[0] is None) != (rest[1] is None):
        fail("--restrictions-from and --restrictions-to: give both or neither", 2)
    try:
        options = AssessmentOptions(
            low,
            high,
            baseline=None if base[0] is None else (base[0], base[1]),  # type: ignore[arg-type]
            restrictions=None if rest[0] is None else (rest[0], rest[1]),  # type: ignore[arg-type]
            countries=chosen,
            marking=marking,
        )
        analyst_notes = load_notes(notes)
    except (AssessmentError, NotesError) as error:
        fail(str(error), 2)
    database = ready()
    data = compute_assessment(database, options)
    try:
        html = render_html(data, lang, analyst_notes)
    except NotesError as error:
        fail(str(error), 2)
    content = render_pdf(html) if kind == "pdf" else html.encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(content)
    partial.replace(out)
    with database.session() as session:
        record_event(
            session,
            actor=current_actor(),
            action="assessment.write",
            object_type="assessment",
            object_id=out.name[:200],
            detail=f"{low}..{high} {lang} {kind} TLP:{data.marking}"
            + (f" (lowered from {data.computed_marking})" if marking else ""),
        )
    console.print(
        f"wrote {out} ({kind}, {lang}, TLP:{data.marking.upper()}, {len(content):,} bytes)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``veille assess`` to the CLI."""
    app.command("assess")(assess)
