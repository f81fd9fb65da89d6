"""Imports every capability's models so that the metadata holds every table."""

from __future__ import annotations

from veille.contract import load_models
from veille.store.models import Base

load_models()

metadata = Base.metadata

__all__ = ["metadata"]
