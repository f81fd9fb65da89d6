"""The steps every stored report goes through, in the one order Veille declares.

Every channel (the ESP API, the REST API and its bulk call, the hotline
form, SMS, in-app, the bulk import) ends with one call,
:func:`reports_stored`, once its reports are committed. Intake's task
``media.work`` hashes and matches their files (``veille.intake.tasks``) and, when a match
may have changed a report's evidence, calls :func:`evidence_changed`; a hash
list import or removal does too (``veille.media.commands``).

The steps after storage are declared by the capabilities that own them
(:class:`veille.contract.FlowStep` s in their ``flow`` module, found through
the contract) and run as tasks of the job
system (:mod:`veille.core.jobs`), in :data:`ORDER`. Each step takes the ids
the previous one returned and is idempotent, so that a step re-run after a
crash, or run twice by two consumers, changes nothing more. Bursts coalesce:
a request for the first step while one is queued and not started adds
nothing, and that one run serves every report stored before it starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from typing import Any

from veille import contract
from veille.contract import FlowStep
from veille.core.jobs import PRIORITY_HIGH, JobSystem, TaskSpec
from veille.store.db import Database

log = logging.getLogger(__name__)

ORDER = ("link", "score", "rollup")
"""The steps after a report is stored (its media are hashed and matched by intake's ``media.work``)."""

RESCORE_FROM = "score"
"""Where the flow starts again when a later match or link changes a report's evidence."""

SWEEP_EVERY_MINUTES = 1
"""The first step also runs on this schedule: work a crash left behind is picked up."""


def flow_steps() -> dict[str, FlowStep]:
    """Every declared step, by name; a step of :data:`ORDER` nobody declares is an error."""
    steps = contract.flow_steps()
    missing = [name for name in ORDER if name not in steps]
    if missing:
        raise LookupError(f"flow steps declared by no capability: {', '.join(missing)}")
    return steps


def task_name(step: str) -> str:
    """The job system's name of a flow step's task."""
    return f"flow.{step}"


def _run_step(step: str, database: Database, report_ids: list[int], trigger: str) -> None:
    system = job_system(database)
    if step == ORDER[0]:
        system.start_requested(task_name(step))
    # One flow step at a time across every consumer: linking and scoring write the
    # same clusters and scores, and a step already sees every report stored before it.
    with system.exclusive("flow"):
        ids = flow_steps()[step].run(database, report_ids, trigger=trigger).next_ids
    position = ORDER.index(step)
    if ids and position + 1 < len(ORDER):
        system.enqueue(task_name(ORDER[position + 1]), sorted(ids), trigger)


def _flow_task(step: str) -> TaskSpec:
    def run(database: Database, report_ids: list[int] | None = None, trigger: str = "link") -> None:
        _run_step(step, database, list(report_ids or ()), trigger)

    return TaskSpec(
        task_name(step),
        run,
        retries=5,
        retry_delay_s=5,
        priority=PRIORITY_HIGH,
        every_minutes=SWEEP_EVERY_MINUTES if step == ORDER[0] else None,
    )


def flow_tasks() -> list[TaskSpec]:
    """The job system's tasks for the steps of :data:`ORDER`."""
    return [_flow_task(step) for step in ORDER]


_systems: dict[int, tuple[Database, JobSystem]] = {}
_systems_lock = threading.Lock()


def job_system(database: Database) -> JobSystem:
    """The job system of ``database`` with every task registered (one per database)."""
    with _systems_lock:
        found = _systems.get(id(database))
        if found is None or found[0] is not database:
            found = (database, JobSystem(database, all_tasks()))
            _systems[id(database)] = found
        return found[1]


def forget_job_system(database: Database) -> None:
    """Close and forget the job system of ``database`` (tests, shutdown)."""
    with _systems_lock:
        found = _systems.pop(id(database), None)
    if found is not None:
        found[1].close()


def forget_job_systems() -> None:
    """Close and forget every job system of this process (tests: between two tests)."""
    with _systems_lock:
        found = list(_systems.values())
        _systems.clear()
    for _database, system in found:
        system.close()


def all_tasks() -> list[TaskSpec]:
    """Every task the job system runs: the flow's, then each capability's (the contract's ``TASKS``)."""
    return [*flow_tasks(), *contract.tasks()]


def reports_stored(database: Database, report_ids: Collection[int]) -> None:
    """Queue the steps after storage for ``report_ids`` (committed): the call every channel makes.

    Also requests every task declared ``on_reports_stored`` (intake's
    ``media.work``: hashing and matching the reports' files). Cheap enough
    for a request: at most one row written to the job queue per task, none
    while a run is already pending. A failure to queue is logged, not
    raised: the reports are stored, and the periodic run of the first step
    picks them up within :data:`SWEEP_EVERY_MINUTES`.
    """
    if not report_ids:
        return
    try:
        system = job_system(database)
        system.request(task_name(ORDER[0]))
        for spec in system.specs:
            if spec.on_reports_stored:
                system.request(spec.name)
    except Exception:
        log.exception("queueing the flow for %d stored reports failed", len(report_ids))


def evidence_changed(database: Database, report_ids: Collection[int], trigger: str) -> None:
    """Queue the flow again from :data:`RESCORE_FROM` for reports whose evidence changed.

    ``trigger`` says what changed (``match`` after the media worker or a hash
    list import, ``link``); it is recorded with each changed score.
    """
    if not report_ids:
        return
    job_system(database).enqueue(task_name(RESCORE_FROM), sorted(set(report_ids)), trigger)


def run_now(
    database: Database,
    report_ids: Collection[int],
    trigger: str = "link",
    on_progress: Callable[[str, int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Run every step in this thread, in order (the bulk import shows their progress).

    Returns each step's summary by step name. ``on_progress`` hears
    ``(label, done, total)`` as each step advances; a step's total is known
    only when it ends (linking takes every unlinked report, scoring every
    unscored one), so it is ``None`` until then.
    """
    ids: Collection[int] = list(report_ids)
    summaries: dict[str, Any] = {}
    steps = flow_steps()
    with job_system(database).exclusive("flow"):
        for name in ORDER:
            bar = _StepBar(STEP_LABELS.get(name, name), on_progress)
            result = steps[name].run(database, ids, trigger=trigger, on_progress=bar.advance)
            bar.finish()
            ids, summaries[name] = result.next_ids, result.summary
    return summaries


STEP_LABELS = {
    "link": "linking reports",
    "score": "scoring reports",
    "rollup": "counting reports for trends",
}
"""How progress bars name the steps."""


class _StepBar:
    """Counts one step's progress into ``on_progress(label, done, total)``."""

    def __init__(self, label: str, on_progress: Callable[[str, int, int | None], None] | None):
        self.label, self.on_progress, self.done = label, on_progress, 0
        if on_progress is not None:
            on_progress(label, 0, None)

    def advance(self, count: int) -> None:
        self.done += count
        if self.on_progress is not None:
            self.on_progress(self.label, self.done, None)

    def finish(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.label, self.done, self.done)
