"""``veille demo``: one command that shows the whole system on synthetic data.

It creates a fresh SQLite database in a demo folder, generates a small
synthetic scenario, imports it with the normal import functions, runs each
capability on it and prints a short summary with the numbers and where the
outputs are. Nothing in it is special-cased: every step is a public function
that a user could call.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from veille.config import get_settings
from veille.core.demo import CLOSING_LINES
from veille.core.demo import DemoContext as DemoContext
from veille.core.demo import DemoSection as DemoSection
from veille.core.demo import DemoStep as DemoStep
from veille.core.demo import veille_invocation as veille_invocation
from veille.store import migrate
from veille.store.db import open_database
from veille.store.models import Report

MARKER = ".veille-demo"


def prepare_folder(folder: Path) -> None:
    """Empty the demo folder, refusing to touch a folder the demo did not create."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise ValueError(
                f"{folder} exists and was not created by 'veille demo'; choose another --folder"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("created by veille demo; deleted by the next demo run\n")


def use_demo_settings(folder: Path) -> None:
    """Point this process's settings at the demo folder."""
    os.environ["VEILLE_DATA_DIR"] = str(folder)
    os.environ["VEILLE_DATABASE_URL"] = f"sqlite:///{(folder / 'veille.db').resolve()}"
    get_settings.cache_clear()


def closing_hint(folder: Path, database_url_was_set: bool) -> str:
    """A command that works as printed to go on exploring the demo database."""
    environment = f"VEILLE_DATA_DIR={shlex.quote(str(folder))}"
    if database_url_was_set:
        # An empty URL means the SQLite file in the data folder.
        environment += " VEILLE_DATABASE_URL="
    return f"{environment} {veille_invocation()} reports list --all-agencies"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
    )


def step_generate(context: DemoContext) -> DemoSection:
    """Generate the small synthetic scenario."""
    from veille.synth.generator import SynthOptions, generate_scenario

    options = SynthOptions(out=context.scenario, seed=context.seed, size="small")
    with _progress(context.console) as progress:
        task = progress.add_task("generating scenario", total=options.target_reports())

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = generate_scenario(options, on_progress=advance)
    lines = [f"{name}: {count:,}" for name, count in sorted(result.counts.items())]
    return DemoSection("synthetic scenario", [f"folder: {context.scenario}", *lines])


def step_import(context: DemoContext) -> DemoSection:
    """Import the scenario's agencies and reports with the normal import path."""
    from veille.intake.importer import import_reports
    from veille.store.agencies import ensure_agencies, load_agency_specs

    with context.database.session() as session:
        created, _ = ensure_agencies(
            session, load_agency_specs(context.scenario / "agencies.jsonl")
        )
    lines = [f"agencies: {created}"]
    for path in sorted(context.scenario.glob("reports*.jsonl")):
        with _progress(context.console) as progress:
            task = progress.add_task(f"importing {path.name}", total=path.stat().st_size)
            summary = import_reports(
                context.database,
                path,
                on_progress=partial(progress.advance, task),
            )
        context.results.setdefault("new_report_ids", []).extend(summary.new_report_ids)
        lines.append(
            f"{path.name}: imported {summary.imported:,}, unchanged {summary.unchanged:,}, "
            f"rejected {summary.rejected:,}"
        )
    return DemoSection("import", lines)


def step_volume(context: DemoContext) -> DemoSection:
    """Counts per country and per platform category."""
    with context.database.session() as session:
        total = session.scalar(select(func.count(Report.id))) or 0
        by_country = session.execute(
            select(Report.derived_country, func.count(Report.id))
            .group_by(Report.derived_country)
            .order_by(func.count(Report.id).desc())
            .limit(8)
        ).all()
        by_category = session.execute(
            select(Report.platform_category, func.count(Report.id))
            .group_by(Report.platform_category)
            .order_by(func.count(Report.id).desc())
        ).all()
    countries = ", ".join(f"{country or '??'} {count:,}" for country, count in by_country)
    categories = ", ".join(f"{category.value} {count:,}" for category, count in by_category)
    return DemoSection(
        "reports",
        [f"total: {total:,}", f"top countries: {countries}", f"by platform category: {categories}"],
    )


def demo_steps() -> list[DemoStep]:
    """The steps in order: the core ones, then each capability's."""
    from veille.contract import demo_steps as declared_steps

    return [step_generate, step_import, step_volume, *declared_steps()]


def run_demo(
    folder: Path,
    *,
    seed: int = 7,
    console: Console | None = None,
    create_app: Callable[..., Any] | None = None,
) -> list[DemoSection]:
    """Run the whole demo in ``folder`` and return its sections (also printed).

    ``create_app`` (the web app factory) lets the steps that drive the app over HTTP run.
    """
    console = console or Console()
    folder = folder.resolve()
    database_url_was_set = bool(get_settings().database_url)
    prepare_folder(folder)
    use_demo_settings(folder)
    database = open_database()
    migrate.upgrade(database)
    context = DemoContext(
        folder, folder / "scenario", database, console, seed, create_app=create_app
    )
    sections = []
    try:
        for step in demo_steps():
            started = time.perf_counter()
            section = step(context)
            if section is None:
                continue
            section.seconds = time.perf_counter() - started
            sections.append(section)
            print_section(console, section)
    finally:
        database.dispose()
    console.print(
        f"\n[bold]Done.[/] Database: {folder / 'veille.db'} — explore it with e.g.\n"
        f"  {closing_hint(folder, database_url_was_set)}",
        highlight=False,
        soft_wrap=True,
    )
    # Steps may leave the last words (the web application's address and log-ins).
    for line in context.results.get(CLOSING_LINES, []):
        console.print(line, highlight=False, soft_wrap=True)
    return sections


def print_section(console: Console, section: DemoSection) -> None:
    """Print one section of the demo summary."""
    console.rule(f"[bold]{section.title}[/] ({section.seconds:.1f} s)")
    for line in section.lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
