"""Imports every capability's models so that the metadata holds every table."""

from __future__ import annotations

from veille.capabilities import capability_modules
from veille.store.models import Base

for _module in capability_modules("models"):
    pass

metadata = Base.metadata

__all__ = ["metadata"]
