"""Linking: identifier normalisation, entity resolution and the link graph."""

from __future__ import annotations

from veille.linking.normalise import IdentifierError, normalise_identifier

__all__ = ["IdentifierError", "normalise_identifier"]
