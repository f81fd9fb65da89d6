"""Agencies (tenants): create, find and list."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from veille.geo import normalise_country
from veille.store.models import Agency
from veille.store.types import MAX_ID
from veille.vocab import AgencyKind


class AgencyNotFound(LookupError):
    """No agency by that name or id."""


class AgencyExists(ValueError):
    """An agency with that name already exists."""


@dataclass(frozen=True)
class AgencySpec:
    """What is needed to create an agency."""

    name: str
    kind: AgencyKind
    country: str
    contact: str | None = None


def add_agency(session: Session, spec: AgencySpec) -> Agency:
    """Create an agency; the name must be new and the country ISO 3166."""
    name = spec.name.strip()
    if not name:
        raise ValueError("agency name: must not be empty")
    if session.scalar(select(Agency.id).where(Agency.name == name)) is not None:
        raise AgencyExists(f"agency {name!r} already exists")
    agency = Agency(
        name=name,
        kind=AgencyKind(spec.kind),
        country=normalise_country(spec.country),
        contact=spec.contact,
    )
    session.add(agency)
    session.flush()
    return agency


def ensure_agencies(session: Session, specs: Iterable[AgencySpec]) -> tuple[int, int]:
    """Create the agencies that do not exist yet; returns (created, already there)."""
    existing = set(session.scalars(select(Agency.name)))
    created = 0
    unchanged = 0
    for spec in specs:
        if spec.name.strip() in existing:
            unchanged += 1
            continue
        add_agency(session, spec)
        existing.add(spec.name.strip())
        created += 1
    return created, unchanged


def find_agency(session: Session, name_or_id: str | int) -> Agency:
    """The agency with that name (or numeric id)."""
    key = str(name_or_id).strip()
    agency = session.scalar(select(Agency).where(Agency.name == key))
    # isdecimal, not isdigit: "²" is a digit but not a number int() reads. Ids past
    # what the database stores cannot exist (and would overflow the driver).
    if agency is None and key.isdecimal() and int(key) <= MAX_ID:
        agency = session.get(Agency, int(key))
    if agency is None:
        raise AgencyNotFound(f"no agency named {key!r} (see 'veille agencies list')")
    return agency


def list_agencies(session: Session) -> Sequence[Agency]:
    """Every agency, by country then name."""
    return session.scalars(select(Agency).order_by(Agency.country, Agency.name)).all()


def load_agency_specs(path: Path) -> list[AgencySpec]:
    """Agencies from a JSON Lines file (name, kind, country, contact), all validated first."""
    specs: list[AgencySpec] = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"line {number}: malformed JSON: {error.msg}") from None
            if not isinstance(fields, dict):
                raise ValueError(f"line {number}: expected a JSON object")
            for key in ("name", "kind", "country"):
                if not fields.get(key):
                    raise ValueError(f"line {number}: {key}: required")
            try:
                kind = AgencyKind(fields["kind"])
            except ValueError:
                allowed = ", ".join(k.value for k in AgencyKind)
                raise ValueError(
                    f"line {number}: kind: {fields['kind']!r} is not one of {allowed}"
                ) from None
            try:
                country = normalise_country(str(fields["country"]))
            except ValueError as error:
                raise ValueError(f"line {number}: country: {error}") from None
            specs.append(AgencySpec(str(fields["name"]), kind, country, fields.get("contact")))
    return specs
