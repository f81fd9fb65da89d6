"""What a capability may provide: the one list, in the spirit of Datasette's ``hookspecs.py``.

A capability is a package ``veille.<name>`` named in
:data:`veille.capabilities.CAPABILITIES`. It provides a part by defining, in
the module a :class:`Part` names, the attribute that part names; every part
is optional. The CLI, the web app, the flow, the worker and the demo are
generic runners: each calls the collecting function of its kinds below and
never imports a capability by name. Capabilities are found by name at run
time (``importlib``), so the import contract in ``pyproject.toml`` sees no
edge from here to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from veille.capabilities import capability_modules


@dataclass(frozen=True)
class Part:
    """One kind of thing a capability may provide."""

    module: str
    """The capability's module that provides it (``veille.<capability>.<module>``)."""
    attribute: str | None
    """What that module defines; ``None`` when importing the module is the contribution."""
    doc: str


MODELS = Part(
    "models",
    None,
    "SQLAlchemy tables on ``veille.store.db.Base``; importing the module adds them to the metadata.",
)
MIGRATIONS = Part(
    "migrations",
    None,
    "Alembic revisions for those tables (today one history in ``veille/store/migrations``).",
)
SETTINGS = Part(
    "settings",
    "SETTINGS",
    "A pydantic-settings class read from ``VEILLE_*`` variables, documented in docs/.",
)
COMMANDS = Part(
    "commands",
    "register",
    "``register(app)`` adds the capability's sub-commands to the ``veille`` Typer app.",
)
ROUTERS = Part(
    "api",
    "router",
    "``router()`` returns a FastAPI ``APIRouter`` mounted under ``/api/v1`` by the web app.",
)
PAGES = Part(
    "pages",
    "router",
    "``router()`` returns a FastAPI ``APIRouter`` of HTML pages, mounted at the site's root.",
)
FLOW_STEPS = Part(
    "flow",
    "FLOW_STEPS",
    "The :class:`FlowStep` s every stored report goes through; ``veille.flow`` orders them.",
)
TASKS = Part(
    "tasks",
    "TASKS",
    "Background and scheduled work: :class:`veille.core.jobs.TaskSpec` s (name, function, retries, priority, schedule).",
)
DEMO_STEPS = Part(
    "demo",
    "DEMO_STEPS",
    "Steps of ``veille demo``: callables ``step(context) -> DemoSection | None``, run in order.",
)

PARTS: dict[str, Part] = {
    "models": MODELS,
    "migrations": MIGRATIONS,
    "settings": SETTINGS,
    "commands": COMMANDS,
    "routers": ROUTERS,
    "pages": PAGES,
    "flow_steps": FLOW_STEPS,
    "tasks": TASKS,
    "demo_steps": DEMO_STEPS,
}
"""Every kind, by name (the docs and a test read it)."""


@dataclass(frozen=True)
class StepResult:
    """What one flow step did: the reports the next step takes, and its own summary."""

    next_ids: frozenset[int]
    summary: Any = None
    """The capability's own account of the run (printed by commands, returned by the API)."""


@dataclass(frozen=True)
class FlowStep:
    """One idempotent step of the flow, declared by the capability that owns it."""

    name: str
    """What ``veille.flow`` orders it by: ``link``, ``score``."""
    run: Callable[..., StepResult]
    """``run(database, report_ids, *, trigger, on_progress=None)``; running it twice changes nothing more."""
    doc: str = ""


def _modules(part: Part) -> Iterator[ModuleType]:
    return capability_modules(part.module)


def _provided(part: Part) -> Iterator[Any]:
    assert part.attribute is not None
    for module in _modules(part):
        found = getattr(module, part.attribute, None)
        if found is not None:
            yield found


def load_models() -> list[ModuleType]:
    """Import every capability's ``models`` module (its tables join the metadata)."""
    return list(_modules(MODELS))


def settings_classes() -> list[type]:
    """Every capability's settings class."""
    return list(_provided(SETTINGS))


def command_registrars() -> list[Callable[[Any], None]]:
    """Every capability's ``register(app)``, in the order of ``CAPABILITIES``."""
    return list(_provided(COMMANDS))


def api_routers() -> list[Any]:
    """Every capability's REST router (an ``APIRouter``), to mount under ``/api/v1``."""
    return [make() for make in _provided(ROUTERS)]


def page_routers() -> list[Any]:
    """Every capability's router of HTML pages."""
    return [make() for make in _provided(PAGES)]


def flow_steps() -> dict[str, FlowStep]:
    """Every declared flow step, by name (a name declared twice is a programming error)."""
    steps: dict[str, FlowStep] = {}
    for declared in _provided(FLOW_STEPS):
        for step in declared:
            if step.name in steps:
                raise RuntimeError(f"flow step {step.name!r} is declared twice")
            steps[step.name] = step
    return steps


def flow_step(name: str) -> FlowStep | None:
    """The flow step called ``name``, or ``None`` when no installed capability declares it."""
    return flow_steps().get(name)


def tasks() -> list[Any]:
    """Every capability's background and scheduled tasks (``TaskSpec`` s)."""
    return [spec for declared in _provided(TASKS) for spec in declared]


def demo_steps() -> list[Callable[[Any], Any]]:
    """Every capability's demo steps, in the order of ``CAPABILITIES``."""
    return [step for steps in _provided(DEMO_STEPS) for step in steps]
