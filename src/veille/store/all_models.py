"""Imports every capability's models so that the metadata holds every table."""

from __future__ import annotations

from veille.store.models import Base

metadata = Base.metadata

__all__ = ["metadata"]
