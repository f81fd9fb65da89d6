"""The ``veille synth`` command (a thin layer over ``generate_scenario``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from veille.output import console, fail, print_json, print_table


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the scenario into.")] = Path(
        "scenario"
    ),
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same bytes.")] = 1,
    size: Annotated[
        str, typer.Option(help="small (≈5k reports), medium (≈100k) or large (≈2M).")
    ] = "small",
    reports: Annotated[
        int | None,
        typer.Option(
            min=100,
            help="Reports to aim at (overrides --size); volumes are drawn, so expect a few "
            "more (docs/synth.md: 200 gives 279, 20,000 gives 20,331).",
        ),
    ] = None,
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")] = "2019-01-01",
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = "2021-06-30",
    images: Annotated[
        int, typer.Option(min=0, help="Benign images written to disk (the rest are hashes only).")
    ] = 500,
    config: Annotated[
        Path | None,
        typer.Option(help="YAML file merged over the default scenario settings.", dir_okay=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Generate a reproducible synthetic COVID-19 scenario (benign data only) with its truth."""
    from veille.synth.config import ScenarioConfigError, load_config
    from veille.synth.generator import SynthOptions, generate_scenario, parse_day

    try:
        options = SynthOptions(
            out=out,
            seed=seed,
            size=size,
            reports=reports,
            start=parse_day(start, "--from"),
            end=parse_day(end, "--to"),
            images=images,
            config_path=config,
        )
        options.target_reports()
        settings = load_config(config)
        if options.end <= options.start:
            raise ValueError("--to: must be after --from")
    except (ValueError, ScenarioConfigError) as error:
        fail(str(error), 2)
    with _progress() as progress:
        task = progress.add_task("generating weeks", total=None)
        result = generate_scenario(
            options,
            settings,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        print_json({"out": str(result.out), "seconds": round(result.seconds, 1), **result.counts})
        return
    rows = [
        {"record": key.replace("_", " "), "count": value} for key, value in result.counts.items()
    ]
    print_table(
        f"scenario written to {result.out} in {result.seconds:.1f} s", rows, ["record", "count"]
    )
    console.print(f"truth: {result.out / 'truth.json'}")


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the ``veille`` command."""
    app.command("synth")(synth_command)
