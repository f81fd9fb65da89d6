"""Column types shared by every capability's models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator

# The largest id a table stores (a 32-bit integer key); a larger one cannot exist.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every engine.

    SQLite has no time zones: the value is stored as naive UTC and given its
    zone back when read. Naive values are refused so that local time never
    slips in unnoticed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Veille stores timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumType(TypeDecorator[Any]):
    """Stores a ``StrEnum`` as its string value; adding a value needs no migration."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else self.enum(value)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
