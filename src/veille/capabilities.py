"""The capabilities of Veille and how the core finds their parts.

Each capability is a package ``veille.<name>``. If it has a ``models`` module,
its tables join the metadata; if it has a ``commands`` module, its
``register(app)`` adds its commands to the CLI. The core never imports a
capability's internals by any other route.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

CAPABILITIES = (
    "synth",
    "media",
    "intake",
    "linking",
    "triage",
    "casework",
    "casework.travel",
    # After casework: its demo step reads the notices and answers casework imported.
    "analytics",
    "sharing",
    "assessment",
    "accounts",
    "web",
    "jobs",
)


def capability_modules(part: str) -> Iterator[ModuleType]:
    """Each capability's ``part`` module (``models``, ``commands``), when it has one."""
    for capability in CAPABILITIES:
        name = f"veille.{capability}.{part}"
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name in (name, f"veille.{capability}"):
                continue
            raise
