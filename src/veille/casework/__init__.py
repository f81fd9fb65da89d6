"""Casework: take-down notices, the travel watch, questionnaires and school incidents."""
