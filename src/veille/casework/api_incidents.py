"""REST routes of school incidents: record, list, count, export as GeoJSON and CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel

from veille.casework.incidents import IncidentFilter, IncidentIn, Period, Place
from veille.casework.models import IncidentKind
from veille.core.api import DatabaseDep, ReaderDep, WriterDep, problem, problem_responses
from veille.core.params import MAX_ID, QueryText, QueryTime
from veille.intake.schema import CountryCode


class IncidentOut(BaseModel):
    """An incident as stored."""

    id: int
    incident_id: str | None
    school: str
    country: str
    region: str | None
    locality: str | None
    kind: IncidentKind
    platform: str | None
    occurred_at: datetime
    reported_at: datetime | None
    latitude: float | None
    longitude: float | None
    report_external_id: str | None


class IncidentList(BaseModel):
    """One page of incidents and how many match."""

    total: int
    incidents: list[IncidentOut]


class IncidentCount(BaseModel):
    """Incidents of one place in one period."""

    country: str
    region: str | None = None
    period: str
    incidents: int


def _criteria(
    country: list[str] | None,
    region: str | None,
    kind: list[IncidentKind] | None,
    start: datetime | None,
    end: datetime | None,
) -> IncidentFilter:
    from veille.geo import CountryError, normalise_country

    try:
        countries = [normalise_country(c) for c in country or []]
    except CountryError as error:
        raise problem(422, "country", str(error)) from None
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise problem(422, name, "expected a time with a time zone, e.g. 2020-04-01T00:00:00Z")
    return IncidentFilter(
        countries=countries, region=region, kinds=kind or [], occurred_from=start,
        occurred_before=end,
    )  # fmt: skip


CountryQuery = Annotated[list[CountryCode] | None, Query(description="ISO 3166 countries.")]
KindQuery = Annotated[list[IncidentKind] | None, Query()]
FromQuery = Annotated[QueryTime | None, Query(alias="from", description="Occurred at or after.")]
ToQuery = Annotated[QueryTime | None, Query(alias="to", description="Occurred before.")]


def router() -> APIRouter:
    """The school-incident routes."""
    routes = APIRouter(tags=["school incidents"])

    @routes.post(
        "/incidents",
        status_code=201,
        response_model=IncidentOut,
        summary="Record a school incident",
        responses=problem_responses(409),
    )
    def record(body: IncidentIn, database: DatabaseDep, viewer: WriterDep) -> dict[str, Any]:
        from veille.casework.incidents import IncidentExists, incident_dict, record_incident

        failure: HTTPException
        with database.session() as session:
            try:
                return incident_dict(record_incident(session, body, actor=viewer.actor))
            except IncidentExists as error:
                failure = problem(409, "incident_id", str(error).partition(": ")[2])
        raise failure

    @routes.get("/incidents", response_model=IncidentList, summary="School incidents, oldest first")
    def listing(
        database: DatabaseDep,
        viewer: ReaderDep,
        country: CountryQuery = None,
        region: QueryText | None = None,
        kind: KindQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    ) -> dict[str, Any]:
        from veille.casework.incidents import incident_dict, list_incidents

        criteria = _criteria(country, region, kind, start, end)
        with database.session() as session:
            total, rows = list_incidents(session, criteria, limit=limit, offset=offset)
            return {"total": total, "incidents": [incident_dict(row) for row in rows]}

    @routes.get(
        "/incidents/counts",
        response_model=list[IncidentCount],
        summary="Incidents counted by country (or region) and period",
    )
    def counts(
        database: DatabaseDep,
        viewer: ReaderDep,
        by: Place = Place.COUNTRY,
        period: Period = Period.MONTH,
        country: CountryQuery = None,
        region: QueryText | None = None,
        kind: KindQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
    ) -> list[dict[str, Any]]:
        from veille.casework.incidents import count_incidents

        criteria = _criteria(country, region, kind, start, end)
        with database.session() as session:
            return count_incidents(session, criteria, place=by, period=period)

    @routes.get(
        "/incidents.geojson",
        summary="School incidents as a GeoJSON FeatureCollection",
        response_class=Response,
        responses={200: {"content": {"application/geo+json": {}}}},
    )
    def geojson(
        database: DatabaseDep,
        viewer: ReaderDep,
        located_only: bool = False,
        country: CountryQuery = None,
        region: QueryText | None = None,
        kind: KindQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
    ) -> Response:
        import json

        from veille.casework.incidents import incidents_geojson, list_incidents

        criteria = _criteria(country, region, kind, start, end)
        with database.session() as session:
            _, rows = list_incidents(session, criteria, limit=None)
            body = json.dumps(incidents_geojson(rows, located_only=located_only))
        return Response(body, media_type="application/geo+json")

    @routes.get(
        "/incidents.csv",
        summary="School incidents as CSV",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    def as_csv(
        database: DatabaseDep,
        viewer: ReaderDep,
        country: CountryQuery = None,
        region: QueryText | None = None,
        kind: KindQuery = None,
        start: FromQuery = None,
        end: ToQuery = None,
    ) -> Response:
        from veille.casework.incidents import incidents_csv, list_incidents

        criteria = _criteria(country, region, kind, start, end)
        with database.session() as session:
            _, rows = list_incidents(session, criteria, limit=None)
            body = incidents_csv(rows)
        return Response(body, media_type="text/csv; charset=utf-8")

    return routes
