"""School incidents: record, import, list, count by place and period, export for mapping.

Incidents name a school and a place, never a person, and are shared with
every agency (they feed maps of where intrusions and contacts happen). An
incident has coordinates only when its sender gave them; GeoJSON writes the
others with a ``null`` geometry, or leaves them out (``located_only``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from veille.casework.errors import ImportRefused, LineProblem
from veille.casework.lines import AwareTime, read_lines
from veille.casework.models import IncidentKind, SchoolIncident
from veille.core.api import StorableText
from veille.geo import CountryError, normalise_country
from veille.intake.schema import CountryCode
from veille.store.audit import record_event
from veille.store.db import Database
from veille.store.types import utcnow


class Period(StrEnum):
    """How counts are grouped in time."""

    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Place(StrEnum):
    """How counts are grouped in space."""

    COUNTRY = "country"
    REGION = "region"


class IncidentIn(StorableText):
    """An incident as sent (a JSON Lines record, an API body)."""

    # Coordinates come in pairs: the schema says so (dependentRequired), the validator checks it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "dependentRequired": {"latitude": ["longitude"], "longitude": ["latitude"]}
        },
    )

    incident_id: str | None = Field(default=None, min_length=1, max_length=200)
    school: str = Field(min_length=1, max_length=300)
    country: CountryCode
    region: str | None = Field(default=None, min_length=1, max_length=200)
    locality: str | None = Field(default=None, min_length=1, max_length=200)
    kind: IncidentKind
    platform: str | None = Field(default=None, max_length=200)
    occurred_at: AwareTime
    reported_at: AwareTime | None = None
    # Left out when unknown (not null), so that the schema can pair them.
    latitude: float = Field(default=None, ge=-90, le=90)  # type: ignore[assignment]
    longitude: float = Field(default=None, ge=-180, le=180)  # type: ignore[assignment]
    report_external_id: str | None = Field(default=None, max_length=200)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        try:
            return normalise_country(value)
        except CountryError as error:
            raise ValueError(str(error)) from None

    @model_validator(mode="after")
    def _consistent(self) -> IncidentIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


def _values(incident: IncidentIn, actor: str) -> dict[str, Any]:
    return {
        "external_id": incident.incident_id,
        "school": incident.school,
        "country": incident.country,
        "region": incident.region,
        "locality": incident.locality,
        "kind": incident.kind,
        "platform": incident.platform,
        "occurred_at": incident.occurred_at,
        "reported_at": incident.reported_at,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "report_external_id": incident.report_external_id,
        "recorded_by": actor,
        "recorded_at": utcnow(),
    }


class IncidentExists(ValueError):
    """An incident id already recorded."""


def record_incident(session: Session, incident: IncidentIn, *, actor: str) -> SchoolIncident:
    """Store one incident (its ``incident_id``, when given, must be new)."""
    if incident.incident_id is not None and session.scalar(
        select(SchoolIncident.id).where(SchoolIncident.external_id == incident.incident_id)
    ):
        raise IncidentExists(f"incident_id: {incident.incident_id!r} is already recorded")
    row = SchoolIncident(**_values(incident, actor))
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor, action="incident.record", object_type="school_incident",
        object_id=row.id,
    )  # fmt: skip
    return row


@dataclass
class IncidentImport:
    """What an import did."""

    imported: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def import_incidents(database: Database, path: Path, *, actor: str) -> IncidentImport:
    """Import JSON Lines of incidents, all or nothing; an ``incident_id`` stored already is skipped."""
    records, problems = read_lines(path, IncidentIn)
    seen: dict[str, int] = {}
    for number, record in records:
        if record.incident_id is None:
            continue
        if record.incident_id in seen:
            problems.append(
                LineProblem(number, "incident_id", f"already on line {seen[record.incident_id]}")
            )
        seen[record.incident_id] = number
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: p.line))
    summary = IncidentImport()
    with database.session() as session:
        stored: set[str] = set()
        keys = sorted(seen)
        for start in range(0, len(keys), 500):
            stored.update(
                session.scalars(
                    select(SchoolIncident.external_id).where(
                        SchoolIncident.external_id.in_(keys[start : start + 500])
                    )
                ).all()  # type: ignore[arg-type]
            )
        rows = []
        for _, record in records:
            if record.incident_id is not None and record.incident_id in stored:
                summary.unchanged += 1
                continue
            rows.append(_values(record, actor))
        for start in range(0, len(rows), 1000):
            session.execute(insert(SchoolIncident), rows[start : start + 1000])
        summary.imported = len(rows)
        record_event(
            session, actor=actor, action="incident.import", object_type="file",
            object_id=path.name[:200], detail=f"{summary.imported} imported",
        )  # fmt: skip
    return summary


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to read; empty fields do not filter."""

    countries: Sequence[str] = ()
    region: str | None = None
    kinds: Sequence[IncidentKind] = ()
    occurred_from: datetime | None = None
    occurred_before: datetime | None = None


def _filtered(statement: Select[Any], criteria: IncidentFilter) -> Select[Any]:
    if criteria.countries:
        statement = statement.where(SchoolIncident.country.in_(criteria.countries))
    if criteria.region is not None:
        statement = statement.where(SchoolIncident.region == criteria.region)
    if criteria.kinds:
        statement = statement.where(SchoolIncident.kind.in_(criteria.kinds))
    if criteria.occurred_from is not None:
        statement = statement.where(SchoolIncident.occurred_at >= criteria.occurred_from)
    if criteria.occurred_before is not None:
        statement = statement.where(SchoolIncident.occurred_at < criteria.occurred_before)
    return statement


def list_incidents(
    session: Session,
    criteria: IncidentFilter = IncidentFilter(),
    *,
    limit: int | None = 100,
    offset: int = 0,
) -> tuple[int, list[SchoolIncident]]:
    """The total matching ``criteria`` and one page of them, oldest first."""
    total = session.scalar(_filtered(select(func.count(SchoolIncident.id)), criteria)) or 0
    statement = _filtered(select(SchoolIncident), criteria).order_by(
        SchoolIncident.occurred_at, SchoolIncident.id
    )
    if limit is not None:
        statement = statement.limit(limit)
    return total, list(session.scalars(statement.offset(offset)))


def period_start(moment: datetime, period: Period) -> str:
    """The period ``moment`` falls in: ``2020-W14`` (ISO week), ``2020-04`` or ``2020``."""
    if period is Period.WEEK:
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period is Period.MONTH:
        return f"{moment.year}-{moment.month:02d}"
    return str(moment.year)


def count_incidents(
    session: Session,
    criteria: IncidentFilter = IncidentFilter(),
    *,
    place: Place = Place.COUNTRY,
    period: Period = Period.MONTH,
) -> list[dict[str, Any]]:
    """Incidents counted by country (and region) and period, in order of place then period.

    Counted over the two narrow columns of each incident: incidents are a
    few per school and week, so the grouping by calendar period is done
    here rather than in each engine's own date functions.
    """
    counts: Counter[tuple[str, str | None, str]] = Counter()
    narrow = cast(
        Select[Any],
        select(SchoolIncident.country, SchoolIncident.region, SchoolIncident.occurred_at),
    )
    for country, region, occurred in session.execute(_filtered(narrow, criteria)):
        where = region if place is Place.REGION else None
        counts[(country, where, period_start(occurred, period))] += 1
    rows = []
    for (country, region, label), count in sorted(
        counts.items(), key=lambda item: (item[0][0], item[0][1] or "", item[0][2])
    ):
        row: dict[str, Any] = {"country": country}
        if place is Place.REGION:
            row["region"] = region
        row.update({"period": label, "incidents": count})
        rows.append(row)
    return rows


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def incident_dict(incident: SchoolIncident) -> dict[str, Any]:
    """An incident, JSON-ready."""
    return {
        "id": incident.id,
        "incident_id": incident.external_id,
        "school": incident.school,
        "country": incident.country,
        "region": incident.region,
        "locality": incident.locality,
        "kind": incident.kind.value,
        "platform": incident.platform,
        "occurred_at": _iso(incident.occurred_at),
        "reported_at": _iso(incident.reported_at),
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "report_external_id": incident.report_external_id,
    }


CSV_COLUMNS = (
    "id", "incident_id", "school", "country", "region", "locality", "kind", "platform",
    "occurred_at", "reported_at", "latitude", "longitude", "report_external_id",
)  # fmt: skip


def incidents_csv(incidents: Sequence[SchoolIncident]) -> str:
    """The incidents as CSV with a header row (empty cells for missing values)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for incident in incidents:
        writer.writerow({k: "" if v is None else v for k, v in incident_dict(incident).items()})
    return out.getvalue()


def incidents_geojson(
    incidents: Sequence[SchoolIncident], *, located_only: bool = False
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946: longitude first); unlocated ones with no geometry."""
    features = []
    for incident in incidents:
        located = incident.latitude is not None and incident.longitude is not None
        if located_only and not located:
            continue
        properties = incident_dict(incident)
        del properties["latitude"], properties["longitude"]
        features.append(
            {
                "type": "Feature",
                "id": incident.id,
                "geometry": {
                    "type": "Point",
                    "coordinates": [incident.longitude, incident.latitude],
                }
                if located
                else None,
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}
