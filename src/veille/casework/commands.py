"""Casework's commands: ``veille takedown``, ``veille incidents`` and ``veille survey``."""

from __future__ import annotations

import typer

from veille.casework.cli_incidents import incidents_app
from veille.casework.cli_survey import survey_app
from veille.casework.cli_takedown import takedown_app


def register(app: typer.Typer) -> None:
    """Add casework's command groups to the CLI."""
    app.add_typer(takedown_app, name="takedown")
    app.add_typer(incidents_app, name="incidents")
    app.add_typer(survey_app, name="survey")
