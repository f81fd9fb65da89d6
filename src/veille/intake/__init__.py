"""Intake: every channel through which reports arrive, and their validation."""

from __future__ import annotations
