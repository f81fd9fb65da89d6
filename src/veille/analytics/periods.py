"""Named periods (baseline, restrictions, after), the same for all or per country.

A periods file (YAML or JSON) names default periods and, optionally, each
country's own dates where they differ::

    periods:
      baseline: [2019-01-07, 2020-02-23]
      restrictions: [2020-03-16, 2020-05-31]
      after: [2020-06-01, 2020-09-27]
    countries:
      FR: {restrictions: [2020-03-17, 2020-05-10], after: [2020-05-11, 2020-09-27]}

Dates are inclusive. The first period is the baseline the others are
compared with, unless a command names another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from veille.safe_yaml import YamlLimitError, load_yaml_limited


class PeriodError(ValueError):
    """A period that cannot be read (the message names the period or the field)."""


@dataclass(frozen=True)
class Period:
    """A named span of days, both ends included."""

    name: str
    start: date
    end: date

    def holds_week(self, monday: date) -> bool:
        """True when the whole week that starts on ``monday`` lies in the period."""
        return self.start <= monday and monday.toordinal() + 6 <= self.end.toordinal()


@dataclass(frozen=True)
class PeriodSet:
    """Default periods, in order (the first is the baseline), and countries' own dates."""

    periods: tuple[Period, ...]
    by_country: dict[str, tuple[Period, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.periods]

    def for_country(self, country: str | None) -> tuple[Period, ...]:
        """The periods of ``country``: its own where it names them, the defaults otherwise."""
        own = {p.name: p for p in self.by_country.get(country or "", ())}
        return tuple(own.get(p.name, p) for p in self.periods)


def _day(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PeriodError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_period(text: str) -> Period:
    """``NAME=FROM..TO`` (as the ``--period`` option takes it)."""
    name, equals, span = text.partition("=")
    start, dots, end = span.partition("..")
    if not equals or not dots or not name.strip():
        raise PeriodError(f"--period: {text!r} is not NAME=YYYY-MM-DD..YYYY-MM-DD")
    return _period(name.strip(), [start, end], f"--period {name.strip()}")


def _period(name: str, span: Any, where: str) -> Period:
    if not isinstance(span, list | tuple) or len(span) != 2:
        raise PeriodError(f"{where}: expected [first day, last day]")
    start, end = _day(span[0], where), _day(span[1], where)
    if end < start:
        raise PeriodError(f"{where}: ends ({end}) before it starts ({start})")
    return Period(name, start, end)


def period_set(periods: list[Period]) -> PeriodSet:
    """Periods given on the command line (at least two, names unique)."""
    names = [p.name for p in periods]
    if len(periods) < 2:
        raise PeriodError("--period: name at least two periods (a baseline and one to compare)")
    if len(set(names)) != len(names):
        raise PeriodError(f"--period: a name is given twice ({', '.join(names)})")
    return PeriodSet(tuple(periods))


def load_periods(path: Path) -> PeriodSet:
    """Read a periods file (YAML or JSON; see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PeriodError(f"periods file: cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else load_yaml_limited(text)
    except (ValueError, YamlLimitError, RecursionError) as error:
        raise PeriodError(f"periods file {path.name}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("periods"), dict):
        raise PeriodError(f"periods file {path.name}: expected a mapping with 'periods'")
    defaults = period_set([_period(str(n), s, f"periods.{n}") for n, s in data["periods"].items()])
    by_country: dict[str, tuple[Period, ...]] = {}
    countries = data.get("countries") or {}
    if not isinstance(countries, dict):
        raise PeriodError(f"periods file {path.name}: 'countries' must be a mapping")
    for country, own in countries.items():
        if not isinstance(own, dict):
            raise PeriodError(f"countries.{country}: expected a mapping of periods")
        unknown = [n for n in own if n not in defaults.names]
        if unknown:
            raise PeriodError(
                f"countries.{country}.{unknown[0]}: not a default period ({', '.join(defaults.names)})"
            )
        by_country[str(country).upper()] = tuple(
            _period(str(n), s, f"countries.{country}.{n}") for n, s in own.items()
        )
    return PeriodSet(defaults.periods, by_country)
