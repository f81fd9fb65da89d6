"""API-key authentication of the web app: the intake capability's keys, checked per route.

The dependencies themselves are the core's (:mod:`veille.core.api`), shared
with every capability's router; this module gives them the key check.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from veille.core import api
from veille.core.api import Principal
from veille.intake.credentials import check_api_key


def install_api_keys(app: FastAPI) -> None:
    """Have every router of ``app`` (the capabilities' too) check the intake capability's keys."""
    api.use_api_keys(app, check_api_key)


def require_scope(scope: str) -> Callable[..., Principal]:
    """A dependency that authenticates an intake API key and checks it has ``scope``."""
    return api.require_scope(scope, check_api_key)


def principal_dependency(scope: str) -> object:
    """``Depends`` on :func:`require_scope` (for route signatures)."""
    return api.principal_dependency(scope, check_api_key)
