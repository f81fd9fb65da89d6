"""``veille worker`` and ``veille jobs``: run the job system's tasks, list and retry them."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from veille.output import console, fail, print_json, print_table

jobs_app = typer.Typer(
    help="Work of the job system: queued, scheduled, running and failed tasks.",
    invoke_without_command=True,
)


@jobs_app.callback()
def jobs_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="Most tasks shown per state.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List queued, scheduled, running (or interrupted) and failed tasks."""
    if ctx.invoked_subcommand is not None:
        return
    from veille.core.database import ready_database
    from veille.flow import job_system

    rows = [record.as_dict() for record in job_system(ready_database()).listing(limit)]
    if as_json:
        print_json(rows)
        return
    print_table(f"{len(rows)} tasks", rows, ["state", "id", "task", "args", "at", "detail"])


@jobs_app.command("retry")
def jobs_retry(task_id: Annotated[str, typer.Argument(help="Id of a failed task.")]) -> None:
    """Queue a failed task again, with its retries restored."""
    from veille.core.database import ready_database
    from veille.flow import job_system

    if not job_system(ready_database()).retry(task_id):
        fail(f"no failed task {task_id!r} (veille jobs lists them)", 1)
    console.print(f"task {task_id} queued again")


def worker_command(
    threads: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker threads (default: VEILLE_JOBS_THREADS)."),
    ] = None,
) -> None:
    """Run a job-system consumer until Ctrl-C: the flow's steps and scheduled work."""
    from veille.core.database import ready_database
    from veille.flow import job_system
    from veille.intake.settings import IntakeSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    system = job_system(ready_database())
    consumer = system.consumer(threads or IntakeSettings().jobs_threads)
    consumer.run()


def register(app: typer.Typer) -> None:
    """Add ``veille worker`` and ``veille jobs`` to the CLI."""
    app.command("worker")(worker_command)
    app.add_typer(jobs_app, name="jobs")
