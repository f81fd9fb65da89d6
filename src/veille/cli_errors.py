"""One clear line, not a traceback, when the operator's setup is wrong.

Settings are read and the database is first reached deep inside commands, so
a wrong setting surfaces as a library exception (pydantic's, SQLAlchemy's,
the file system's). The ``veille`` group translates those few kinds here,
once for every command, into a line that names the setting and what was
expected, with any password in a URL hidden.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy.exc import ArgumentError, OperationalError
from typer.core import TyperGroup

from veille.config import SettingError

_SECRET_WORDS = ("password", "secret", "key", "token")
DATABASE_URL_HELP = "expected sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/NAME"


def _settings_classes() -> set[str]:
    found: set[str] = set()
    pending: list[type[Any]] = [BaseSettings]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.add(sub.__name__)
            pending.append(sub)
    return found


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _configured_database_url() -> str:
    """The database URL in use, password hidden; "" when the settings themselves are bad."""
    from veille.config import get_settings
    from veille.store.db import hide_password

    try:
        return hide_password(get_settings().resolved_database_url())
    except (ValidationError, ValueError):
        return ""


def _settings_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = "VEILLE_" + "_".join(str(part) for part in item["loc"]).upper()
        value = item.get("input")
        secret = any(word in name.lower() for word in _SECRET_WORDS)
        shown = "" if secret or isinstance(value, dict) else f"={str(value)[:60]!r}"
        parts.append(f"{name}{shown}: {item['msg'].lower()}")
    return "; ".join(parts)


def operator_error(error: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for a setup mistake, or None for anything else."""
    if isinstance(error, SettingError):
        return str(error), 2
    if isinstance(error, ValidationError) and error.title in _settings_classes():
        return _settings_message(error), 2
    if isinstance(error, ArgumentError):
        url = _configured_database_url()
        where = f"VEILLE_DATABASE_URL={url!r}" if url else "VEILLE_DATABASE_URL"
        return f"{where} is not a database URL Veille can use ({DATABASE_URL_HELP}): {error}", 2
    if isinstance(error, OperationalError):
        url = _configured_database_url()
        reason = _one_line(str(error.orig) if error.orig is not None else str(error))
        reason = reason.removeprefix("connection failed: ")
        where = f" {url}" if url else ""
        return f"cannot use the database{where} (VEILLE_DATABASE_URL): {reason}", 1
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}", 1
    return None


class VeilleGroup(TyperGroup):
    """The ``veille`` group: every command's setup mistakes become one line on stderr."""

    _help_tidied = False

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # Here, not in __init__: Typer adds the completion options afterwards.
        if not self._help_tidied:
            from veille.cli_options import tidy_help_types

            tidy_help_types(self)
            self._help_tidied = True
        return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            found = operator_error(error)
            if found is None:
                raise
            from veille.output import fail

            fail(*found)
