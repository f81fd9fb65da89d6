"""Casework's REST routes under ``/api/v1``: take-down notices, school incidents, questionnaires.

Errors use the one shape ``{"detail": [{"field": ..., "reason": ...}]}``
(:mod:`veille.core.api`).
"""

from __future__ import annotations

from fastapi import APIRouter

from veille.casework import api_incidents, api_survey, api_takedown


def router() -> APIRouter:
    """Every casework route."""
    routes = APIRouter()
    routes.include_router(api_takedown.router())
    routes.include_router(api_incidents.router())
    routes.include_router(api_survey.router())
    return routes
