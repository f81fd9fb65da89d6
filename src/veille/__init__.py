"""Veille: hash-first intelligence, matching and triage against child sexual exploitation."""

from __future__ import annotations

__version__ = "0.1.0"
